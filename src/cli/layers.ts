/**
 * The one place that builds the layers every command runs with: the Node platform (files, paths,
 * terminal for @effect/cli) and the operating system's entropy. Commands build their own service
 * layers (storage, transports, crypto) from their options, inside their own modules, so that a
 * command loads only what it uses.
 */
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Layer } from "effect"
import * as EntropyLive from "../layers/EntropyLive.js"

export const cliLayer = Layer.mergeAll(NodeContext.layer, EntropyLive.layer)
