/**
 * @internal An eventemitter3 emitter whose listeners cannot break the engine: a listener that
 * throws (or returns a rejected promise) is reported as an `error` event, and the other listeners
 * still run.
 */
import { EventEmitter } from "eventemitter3";
import type { EngineEventName, EngineEvents } from "./events.js";

type Listener<E extends EngineEventName> = (...args: EngineEvents[E]) => unknown;
type Wrapped = (...args: unknown[]) => void;
type AnyListener = (...args: never[]) => unknown;

/** @internal */
export class SafeEmitter {
  readonly #emitter = new EventEmitter();
  /** Per event, the wrappers registered for each original listener (in registration order). */
  readonly #wrappers = new Map<EngineEventName, Map<AnyListener, Wrapped[]>>();

  on<E extends EngineEventName>(event: E, listener: Listener<E>): void {
    this.#emitter.on(event, this.#wrap(event, listener, false));
  }

  once<E extends EngineEventName>(event: E, listener: Listener<E>): void {
    this.#emitter.once(event, this.#wrap(event, listener, true));
  }

  off<E extends EngineEventName>(event: E, listener?: Listener<E>): void {
    const byListener = this.#wrappers.get(event);
    if (!byListener) return;
    if (!listener) {
      for (const wrappers of byListener.values()) {
        for (const wrapper of wrappers) this.#emitter.off(event, wrapper);
      }
      this.#wrappers.delete(event);
      return;
    }
    const wrappers = byListener.get(listener);
    const wrapper = wrappers?.pop();
    if (wrapper) this.#emitter.off(event, wrapper);
    if (wrappers && wrappers.length === 0) byListener.delete(listener);
  }

  /** True when anyone listens to `event`: lets callers skip building payloads nobody reads. */
  has(event: EngineEventName): boolean {
    return this.#emitter.listenerCount(event) > 0;
  }

  emit<E extends EngineEventName>(event: E, ...args: EngineEvents[E]): void {
    if (event === "error" && !this.has("error")) {
      // Nobody listens for errors: say so on stderr rather than lose them.
      console.error("[crier]", ...args);
      return;
    }
    this.#emitter.emit(event, ...args);
  }

  removeAll(): void {
    this.#emitter.removeAllListeners();
    this.#wrappers.clear();
  }

  #wrap<E extends EngineEventName>(event: E, listener: Listener<E>, once: boolean): Wrapped {
    const wrapper: Wrapped = (...args) => {
      if (once) this.#forget(event, listener, wrapper);
      try {
        const result = (listener as (...a: unknown[]) => unknown)(...args);
        if (result && typeof (result as Promise<unknown>).then === "function") {
          (result as Promise<unknown>).then(undefined, (error: unknown) =>
            this.#report(event, error),
          );
        }
      } catch (error) {
        this.#report(event, error);
      }
    };
    let byListener = this.#wrappers.get(event);
    if (!byListener) {
      byListener = new Map();
      this.#wrappers.set(event, byListener);
    }
    const list = byListener.get(listener);
    if (list) list.push(wrapper);
    else byListener.set(listener, [wrapper]);
    return wrapper;
  }

  #forget(event: EngineEventName, listener: AnyListener, wrapper: Wrapped): void {
    const byListener = this.#wrappers.get(event);
    const list = byListener?.get(listener);
    if (!list) return;
    const index = list.indexOf(wrapper);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) byListener?.delete(listener);
  }

  #report(event: EngineEventName, error: unknown): void {
    if (event === "error") {
      console.error("[crier] an `error` listener threw:", error);
      return;
    }
    this.emit("error", { error, source: `listener:${event}` });
  }
}
