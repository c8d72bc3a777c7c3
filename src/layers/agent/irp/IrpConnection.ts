/**
 * The User Agent's one authenticated connection to its domain's IRP server (PROTOCOL.md §17), shared
 * by `IrpPresence` (Register / Deregister) and `IrpDirectory` (Lookup / Watch).
 *
 * A supervisor fiber keeps it up: it dials in the background (the agent runs, accepts peers and
 * queues messages while the IRP is unreachable), and when the connection drops it reconnects with
 * exponential backoff and jitter (1 s doubling to 60 s). A drop is noticed at once when the server
 * closes or resets (a watch of our own handle fails with the channel), by a `<Ping/>` that gets no
 * answer (a path that died silently), or by any request that fails with a channel error.
 *
 * `connections` replays the current connection and then every new one, so that Presence registers
 * again and the Directory watches again after each reconnect.
 */
import {
  Cause,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Layer,
  Option,
  Random,
  Scope,
  Stream,
  SubscriptionRef
} from "effect"
import { type Address, formatAddress, type Handle } from "../../../domain/brands.js"
import { type IrpClient, IrpClientError, IrpClients } from "../../../services/IrpClient.js"

export interface IrpConnectionOptions {
  /** Where the domain's IRP server listens (port 4604 by default). */
  readonly address: Address
  /** The DNS name its server certificate carries (`irp.<domain>` unless the operator chose another). */
  readonly serverName: string
  /**
   * Our key (PKCS#8 DER) and certificate chain (DER, leaf first); a function is read at each connect
   * (the agent renews its certificate while it runs, PROTOCOL.md 17.4.8).
   */
  readonly identity:
    | { readonly pkcs8: Uint8Array; readonly chain: ReadonlyArray<Uint8Array> }
    | (() => { readonly pkcs8: Uint8Array; readonly chain: ReadonlyArray<Uint8Array> })
  /** Our handle (watched on our own connection: the watch ends when the connection does). */
  readonly handle: Handle
  /** A `<Ping/>` this often proves the connection alive (default 30 s). */
  readonly keepAlive?: Duration.DurationInput | undefined
  /** First reconnect delay (default 1 s); it doubles per failed attempt up to `reconnectMax`. */
  readonly reconnectBase?: Duration.DurationInput | undefined
  /** Longest reconnect delay (default 60 s). */
  readonly reconnectMax?: Duration.DurationInput | undefined
  /** How long a request waits for a connection before it fails `Unreachable` (default 10 s). */
  readonly waitForConnection?: Duration.DurationInput | undefined
  readonly requestTimeout?: Duration.DurationInput | undefined
  readonly connectTimeout?: Duration.DurationInput | undefined
}

export {
  type Connected,
  type ConnectionState,
  IrpConnection,
  type IrpConnectionService
} from "../../../services/IrpConnection.js"

import {
  type Connected,
  type ConnectionState,
  IrpConnection,
  type IrpConnectionService
} from "../../../services/IrpConnection.js"

/** Failures that mean the connection itself is gone (the server's `<Error>` answers do not). */
export const isConnectionFailure = (e: IrpClientError): boolean =>
  e.reason === "Channel" || e.reason === "Timeout" || e.reason === "Protocol" || e.reason === "Unreachable"

/** Delay before reconnect attempt `attempt` (1-based): exponential, "equal jitter" (half fixed, half random). */
export const reconnectDelay = (attempt: number, baseMs: number, maxMs: number, random: number): number => {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, attempt - 1)))
  return Math.round(ceiling / 2 + (ceiling / 2) * random)
}

const millis = (d: Duration.DurationInput) => Duration.toMillis(Duration.decode(d))

export const make = (
  options: IrpConnectionOptions
): Effect.Effect<IrpConnectionService, never, IrpClients | Scope.Scope> =>
  Effect.gen(function* () {
    const clients = yield* IrpClients
    const outer = yield* Effect.scope
    const keepAliveMs = millis(options.keepAlive ?? Duration.seconds(30))
    const baseMs = millis(options.reconnectBase ?? Duration.seconds(1))
    const maxMs = millis(options.reconnectMax ?? Duration.seconds(60))
    const waitMs = millis(options.waitForConnection ?? Duration.seconds(10))
    const where = `the IRP server ${options.serverName} at ${formatAddress(options.address)}`

    const state = yield* SubscriptionRef.make<ConnectionState>({ _tag: "Down", error: undefined, attempts: 0 })
    /** Completed (with the reason) when the current connection is to be dropped. */
    let dropped: Deferred.Deferred<IrpClientError> | undefined
    let generation = 0

    const failed = (gen: number, error: IrpClientError) =>
      Effect.suspend(() =>
        gen === generation && dropped !== undefined && isConnectionFailure(error)
          ? Effect.asVoid(Deferred.succeed(dropped, error))
          : Effect.void
      )

    /** Keeps the connection honest: our own watch ends with the channel; pings catch a silent path. */
    const liveness = (client: IrpClient, gen: number, scope: Scope.Scope) =>
      Effect.gen(function* () {
        // A refused watch (not a channel failure) leaves the pings alone in charge.
        const watch = Scope.extend(client.watch([options.handle]), scope).pipe(
          Effect.flatMap(Stream.runDrain),
          Effect.zipRight(
            Effect.fail(
              new IrpClientError({ reason: "Channel", message: `${where} closed the connection: reconnecting.` })
            )
          ),
          Effect.catchAll((e) => failed(gen, e))
        )
        yield* Effect.forkIn(watch, scope)
        const ping = Effect.sleep(Duration.millis(keepAliveMs)).pipe(
          Effect.zipRight(client.ping),
          Effect.forever,
          Effect.catchAll((e) => failed(gen, e))
        )
        yield* Effect.forkIn(ping, scope)
      })

    const supervise = Effect.gen(function* () {
      let attempts = 0
      for (;;) {
        const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
        const attempt = yield* Effect.exit(
          Scope.extend(
            clients.connect({
              address: options.address,
              serverName: options.serverName,
              identity: typeof options.identity === "function" ? options.identity() : options.identity,
              // Our own pings (above) notice a dead path; the client's would only be ignored.
              keepAlive: Duration.hours(24),
              requestTimeout: options.requestTimeout,
              connectTimeout: options.connectTimeout
            }),
            scope
          )
        )
        if (Exit.isFailure(attempt)) {
          yield* Scope.close(scope, Exit.void)
          const error = Option.getOrElse(
            Cause.failureOption(attempt.cause),
            () => new IrpClientError({ reason: "Channel", message: `Connecting to ${where} failed.` })
          )
          attempts++
          yield* SubscriptionRef.set(state, { _tag: "Down", error, attempts })
          if (attempts === 1 || attempts % 10 === 0)
            yield* Effect.logWarning(`agent: cannot connect to ${where} (attempt ${attempts}): ${error.message}`)
          yield* Effect.sleep(Duration.millis(reconnectDelay(attempts, baseMs, maxMs, yield* Random.next)))
          continue
        }
        attempts = 0
        const gen = ++generation
        const drop = yield* Deferred.make<IrpClientError>()
        dropped = drop
        yield* liveness(attempt.value, gen, scope)
        yield* SubscriptionRef.set(state, { _tag: "Up", client: attempt.value, generation: gen })
        const reason = yield* Deferred.await(drop)
        dropped = undefined
        yield* SubscriptionRef.set(state, { _tag: "Down", error: reason, attempts: 0 })
        yield* Effect.logWarning(`agent: lost the connection to ${where} (${reason.message}); reconnecting`)
        yield* Scope.close(scope, Exit.void)
        yield* Effect.sleep(Duration.millis(reconnectDelay(1, baseMs, maxMs, yield* Random.next)))
      }
    })
    yield* Effect.forkIn(supervise, outer)

    const upNow = Effect.flatMap(SubscriptionRef.get(state), (s) =>
      s._tag === "Up"
        ? Effect.succeed(s)
        : Effect.fail(
            new IrpClientError({
              reason: "Unreachable",
              message:
                s.error === undefined
                  ? `Not connected to ${where} yet; try again in a moment.`
                  : `Not connected to ${where}: ${s.error.message}`
            })
          )
    )
    const awaitUp = Effect.flatMap(SubscriptionRef.get(state), (s) =>
      s._tag === "Up"
        ? Effect.succeed(s)
        : state.changes.pipe(
            Stream.filter((x): x is Connected => x._tag === "Up"),
            Stream.runHead,
            Effect.flatMap(Option.match({ onNone: () => upNow, onSome: Effect.succeed })),
            Effect.timeout(Duration.millis(waitMs)),
            Effect.catchTag("TimeoutException", () => upNow)
          )
    )
    const run =
      (up: Effect.Effect<Connected, IrpClientError>) =>
      <A>(f: (client: IrpClient) => Effect.Effect<A, IrpClientError>) =>
        Effect.flatMap(up, (c) => Effect.tapError(f(c.client), (e) => failed(c.generation, e)))

    return {
      handle: options.handle,
      address: options.address,
      state: SubscriptionRef.get(state),
      connections: state.changes.pipe(
        Stream.filter((s): s is Connected => s._tag === "Up"),
        Stream.changesWith((a, b) => a.generation === b.generation)
      ),
      use: run(awaitUp),
      useNow: run(upNow),
      failed,
      reconnect: (why) =>
        Effect.suspend(() =>
          dropped === undefined
            ? Effect.void
            : Effect.asVoid(Deferred.succeed(dropped, new IrpClientError({ reason: "Channel", message: why })))
        )
    } satisfies IrpConnectionService
  })

export const layer = (options: IrpConnectionOptions): Layer.Layer<IrpConnection, never, IrpClients> =>
  Layer.scoped(IrpConnection, make(options))
