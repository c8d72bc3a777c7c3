/**
 * The control socket's method table: params and result Schemas of every JSON-RPC method (see
 * `docs/CONTROL.md`). Shared by the server (decodes params, encodes results) and the client (the
 * reverse). Lives beside the server rather than in the domain because two results (`status`, the
 * events) are Schemas of the `Agent` port.
 */
import { Schema } from "effect"
import { Contact } from "../../../domain/agent/contacts.js"
import { DomainKeyChange } from "../../../domain/agent/domainRoots.js"
import { StoredMessage } from "../../../domain/agent/messages.js"
import {
  AcceptParams,
  CancelParams,
  ContactsResult,
  DomainInfoResult,
  DomainKeyChangesParams,
  DomainKeyChangesResult,
  DomainParams,
  EmptyResult,
  HistoryParams,
  HistoryResult,
  KeyChangesParams,
  KeyChangesResult,
  LookupResult,
  MarkReadResult,
  NoParams,
  OutboxItem,
  OutboxParams,
  OutboxResult,
  PeerParams,
  SendFileParams,
  SendParams,
  SubscribeResult,
  TransfersParams,
  TransfersResult,
  TypingParams,
  UnsubscribeParams,
  VerifyParams
} from "../../../domain/agent/rpc.js"
import { Transfer } from "../../../domain/agent/transfers.js"
import { AgentEvent, AgentStatus } from "../../../services/Agent.js"

const method = <P extends Schema.Schema.AnyNoContext, R extends Schema.Schema.AnyNoContext>(params: P, result: R) => ({
  params,
  result
})

export const Methods = {
  send: method(SendParams, StoredMessage),
  lookup: method(PeerParams, LookupResult),
  outbox: method(OutboxParams, OutboxResult),
  outboxCancel: method(CancelParams, OutboxItem),
  sendFile: method(SendFileParams, Transfer),
  cancel: method(CancelParams, EmptyResult),
  accept: method(AcceptParams, EmptyResult),
  history: method(HistoryParams, HistoryResult),
  contacts: method(NoParams, ContactsResult),
  contact: method(PeerParams, Contact),
  trust: method(PeerParams, EmptyResult),
  verify: method(VerifyParams, Contact),
  keyChanges: method(KeyChangesParams, KeyChangesResult),
  domainInfo: method(DomainParams, DomainInfoResult),
  trustDomain: method(DomainParams, DomainKeyChange),
  domainKeyChanges: method(DomainKeyChangesParams, DomainKeyChangesResult),
  markRead: method(PeerParams, MarkReadResult),
  typing: method(TypingParams, EmptyResult),
  transfers: method(TransfersParams, TransfersResult),
  status: method(NoParams, AgentStatus),
  subscribe: method(NoParams, SubscribeResult),
  unsubscribe: method(UnsubscribeParams, EmptyResult)
} as const

export type Methods = typeof Methods
export type MethodName = keyof Methods
export type ParamsOf<M extends MethodName> = Schema.Schema.Type<Methods[M]["params"]>
export type ResultOf<M extends MethodName> = Schema.Schema.Type<Methods[M]["result"]>

export const isMethodName = (name: string): name is MethodName => Object.hasOwn(Methods, name)

/** Events as they travel in notifications. */
export const encodeEvent = Schema.encodeSync(AgentEvent)
export const decodeEvent = Schema.decodeUnknown(AgentEvent)
