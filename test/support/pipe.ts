/** Moved to the test kit (`sixchat/testing`, issue 12 §2); re-exported for the suite. */
export * from "../../src/testing/pipe.js"
