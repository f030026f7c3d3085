/**
 * crier: an embeddable notification workflow engine with Knock's workflow model.
 *
 * @module
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
} from "./conditions/types.js";
export { createEngine, type Engine, type WorkflowsApi } from "./engine/create-engine.js";
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
  StepSkippedEvent,
  WorkflowTriggeredEvent,
} from "./engine/events.js";
export type {
  GetPreferencesOptions,
  ListSubscriptionsParams,
  MessageListParams,
  MessagePage,
  Page,
  RunListParams,
} from "./engine/namespaces.js";
export type { DeliveryRetryOptions, EngineOptions } from "./engine/options.js";
export type { TriggerOptions, TriggerParams, TriggerResult } from "./engine/trigger.js";
export {
  CrierError,
  type CrierErrorCode,
  IdempotencyConflictError,
  InvalidParamsError,
  NotFoundError,
  type ValidationIssue,
  WorkflowInactiveError,
  WorkflowNotFoundError,
} from "./errors.js";
export type { BatchMessageIds, InteractedOptions } from "./messages/engagement.js";
export type { FeedBlock, FeedItem, FeedListParams, FeedPage } from "./messages/feed.js";
export type { Message, MessageDeliveryStatus, MessageEngagementStatus } from "./messages/types.js";
export type {
  ChannelSetting,
  PreferenceSet,
  PreferenceSetInput,
  WorkflowPreferenceSetting,
} from "./preferences/types.js";
export { memoryQueue } from "./queue/memory.js";
export type { Job, JobData, JobInput, Queue, QueueContext } from "./queue/types.js";
export type {
  ChannelData,
  InlineObjectRequest,
  InlineUserRequest,
  ObjectReference,
  RecipientObject,
  RecipientReference,
  RecipientRequest,
  Subscription,
  Tenant,
  TenantRequest,
  User,
  UserProperties,
} from "./recipients/types.js";
export { type Clock, systemClock, type TimerHandle } from "./scheduling/clock.js";
export { memoryStore } from "./store/memory.js";
export type {
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
  Store,
  StoredRecipient,
  StoredSubscription,
  TimeRange,
  WorkflowWrite,
} from "./store/types.js";
export { TENANTS_COLLECTION, USERS_COLLECTION } from "./store/types.js";
export { type DefinedWorkflow, defineWorkflow } from "./workflows/define-workflow.js";
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
