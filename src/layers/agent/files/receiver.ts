/**
 * The receiving half of file transfer (PROTOCOL.md §15; docs/PROTOCOL.md 5.4, 15.6; issue 4,
 * section 3): accept by policy, write data records into `downloads/.partial/<peer>/<id>` at the
 * expected offset while hashing them, and on `<FileDone sha256>` check size and that SHA-256 (the
 * sender's, hashed while it streamed) before moving the file into `downloads/` (name made safe,
 * never overwriting) and answering `<FileAck>`.
 *
 * One file per step, sharing the live state of `receiveState.ts`: offer admission and resume
 * (`receiveOffer.ts`), chunk writing and hashing (`receiveData.ts`), done, verify and place
 * (`receiveDone.ts`), cancel and pause (`receiveCancel.ts`).
 */
import type { FilesContext } from "./context.js"
import { makeCancelAndPause } from "./receiveCancel.js"
import { makeDataReceiver } from "./receiveData.js"
import { makeDoneReceiver } from "./receiveDone.js"
import { makeOfferAdmission } from "./receiveOffer.js"
import { makeReceiveState } from "./receiveState.js"

export const makeReceiver = (ctx: FilesContext) => {
  const state = makeReceiveState(ctx)
  const { onOffer, accept } = makeOfferAdmission(ctx, state)
  const { onData, tryData } = makeDataReceiver(ctx, state)
  const onDone = makeDoneReceiver(ctx, state)
  const { stopIncoming, onCancel, sessionDown, closeAll } = makeCancelAndPause(ctx, state)
  return { onOffer, accept, onData, tryData, onDone, onCancel, stopIncoming, sessionDown, closeAll }
}
