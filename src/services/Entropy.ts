/**
 * Entropy: the only source of randomness in SixChat. Production uses the operating system's CSPRNG;
 * tests and simulations use a seeded deterministic generator so that a seed reproduces a run.
 */
import { Context } from "effect"

export interface EntropyService {
  /** `length` fresh random bytes. */
  readonly bytes: (length: number) => Uint8Array
}

export class Entropy extends Context.Tag("sixchat/Entropy")<Entropy, EntropyService>() {}
