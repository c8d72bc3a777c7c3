/** The version `sixchat --version` prints; kept in a module of its own so that `--version` loads nothing else. */
export const VERSION = "0.1.0"
