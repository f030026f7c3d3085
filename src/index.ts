/**
 * crier: an embeddable notification workflow engine with Knock's workflow model.
 *
 * @module crier
 */

export type { JsonObject, JsonPrimitive, JsonValue } from "./_internal/json.js";
export type { PageInfo, PageParams } from "./_internal/paging.js";
export type {
  ChannelConfig,
  ChannelProvider,
  DeliveryResult,
  OutboundMessage,
} from "./channels/types.js";
export type {
  AllConditionGroup,
  AnyConditionGroup,
  Condition,
  ConditionExplanation,
  ConditionGroup,
  ConditionOperator,
  ConditionScope,
  FailedCondition,
} from "./conditions/types.js";
export type { BulkOperation, BulkOperationErrorItem } from "./engine/bulk.js";
export type { CancelParams } from "./engine/cancel.js";
export {
  createEngine,
  type Engine,
  type KnownWorkflows,
  type NoKnownWorkflows,
  type TriggerDataFor,
  type TriggerParamsFor,
  type WorkflowsApi,
} from "./engine/create-engine.js";
export type {
  EngineEventName,
  EngineEvents,
  ErrorEvent,
  FeedChangedEvent,
  FeedMeta,
  MessageEvent,
  MessageEventName,
  RunEventBase,
  RunStatusEvent,
  ScheduleFiredEvent,
  ScheduleSkippedEvent,
  SourceSkippedEvent,
  StepSkippedEvent,
  WorkflowTriggeredEvent,
} from "./engine/events.js";
export type { UserMergeParams } from "./engine/merge.js";
export type {
  GetPreferencesOptions,
  ListSubscriptionsParams,
  MessageListParams,
  MessagePage,
  Page,
  RecipientListParams,
  RunListParams,
  TenantGetParams,
} from "./engine/namespaces.js";
export type { DeliveryRetryOptions, EngineOptions } from "./engine/options.js";
export type { RequestOptions } from "./engine/request-options.js";
export type { ScheduleListParams, UserScheduleListParams } from "./engine/schedules.js";
export type {
  ReceiveOptions,
  ReceiveResult,
  Source,
  SourceAction,
  SourceCancelAction,
  SourceDefinition,
  SourceTriggerAction,
} from "./engine/sources.js";
export type { UserSubscriptionListParams } from "./engine/subscription-lists.js";
export type {
  TriggerOptions,
  TriggerParams,
  TriggerResult,
  TriggerSettings,
} from "./engine/trigger.js";
export {
  CrierError,
  type CrierErrorCode,
  EngineClosedError,
  IdempotencyConflictError,
  InvalidParamsError,
  NotFoundError,
  type ValidationIssue,
  WorkflowInactiveError,
  WorkflowNotFoundError,
} from "./errors.js";
export type { Activity, ActivityListParams, ActivityPage } from "./messages/activities.js";
export type { BatchMessageIds, InteractedOptions } from "./messages/engagement.js";
export type { FeedBlock, FeedItem, FeedListParams, FeedPage } from "./messages/feed.js";
export type { Message, MessageDeliveryStatus, MessageEngagementStatus } from "./messages/types.js";
export type {
  ChannelSetting,
  ChannelSettingRequest,
  ChannelTypeSettingsRequest,
  ConditionRequest,
  PreferenceSet,
  PreferenceSetInput,
  PreferenceSetRequest,
  WorkflowPreferenceSetting,
  WorkflowPreferenceSettingRequest,
} from "./preferences/types.js";
export { type MemoryQueueOptions, memoryQueue } from "./queue/memory.js";
export type { Job, JobData, JobInput, Queue, QueueContext } from "./queue/types.js";
export type {
  ChannelData,
  InlineChannelData,
  InlineObjectRequest,
  InlinePreferences,
  InlineUserRequest,
  ObjectReference,
  RecipientObject,
  RecipientReference,
  RecipientReferenceInput,
  RecipientRequest,
  Subscription,
  Tenant,
  TenantRequest,
  User,
  UserProperties,
} from "./recipients/types.js";
export { type Clock, systemClock, type TimerHandle } from "./scheduling/clock.js";
export type { RepeatDay, RepeatRule } from "./scheduling/repeat.js";
export type {
  RepeatRuleInput,
  Schedule,
  ScheduleCreateParams,
  ScheduleDeleteParams,
  ScheduleRepeatRule,
  ScheduleUpdateParams,
} from "./scheduling/schedules.js";
export { type MemoryStoreOptions, memoryStore } from "./store/memory.js";
export type {
  BatchAppend,
  BatchAppendResult,
  BatchItem,
  EngagementResult,
  EngagementUpdate,
  IdempotencyClaim,
  MaybePromise,
  MessageCounts,
  MessageFilter,
  PageRequest,
  PageResult,
  RecipientKey,
  RecipientPatch,
  RunFilter,
  ScheduleFilter,
  Store,
  StoredBatch,
  StoredCancellation,
  StoredRecipient,
  StoredSchedule,
  StoredSource,
  StoredSubscription,
  ThrottleCount,
  TimeRange,
  WorkflowWrite,
} from "./store/types.js";
export { TENANTS_COLLECTION, USERS_COLLECTION } from "./store/types.js";
export {
  type AnyTriggerData,
  type CheckedRefs,
  type DefinedWorkflow,
  defineWorkflow,
  type ReadonlyDeep,
  type RefField,
  type RefVariable,
  type StepRefs,
  type TriggerData,
  type UnknownField,
  type UnknownRefVariable,
  type WorkflowDefinition,
  type Writable,
} from "./workflows/define-workflow.js";
export type {
  RunEvent,
  RunStatus,
  SkipReason,
  TriggerSource,
  WorkflowRecipientRun,
  WorkflowRun,
} from "./workflows/run-types.js";
export type {
  BatchStep,
  Branch,
  BranchStep,
  ChannelStep,
  ChannelType,
  DelayStep,
  Duration,
  HttpFetchStep,
  SendWindow,
  Step,
  StepBase,
  StepType,
  ThrottleStep,
  TriggerWorkflowStep,
  UpdateDataStep,
  Workflow,
  WorkflowInput,
} from "./workflows/types.js";
