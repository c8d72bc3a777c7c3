/**
 * The one place that builds the layers every command runs with: what @effect/cli needs of the Node
 * platform (files, paths, terminal: `CliApp.Environment`) and the operating system's entropy. Not the
 * whole `NodeContext`: its process runner and worker pool are used by no command and cost start-up
 * time (issue 13). Commands build their own service layers (storage, transports, crypto) from their
 * options, inside their own modules, so that a command loads only what it uses.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Layer } from "effect"
import * as EntropyLive from "../layers/EntropyLive.js"

export const cliLayer = Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeTerminal.layer, EntropyLive.layer)
