/**
 * Examples shown in `--help` and the man pages, per command path (`"irp serve"`): what it does, then
 * the command line.
 */
type Examples = ReadonlyArray<readonly [string, string]>

const EXAMPLES: Readonly<Record<string, Examples>> = {
  "": [
    ["Try everything on loopback in one process tree:", "sixchat demo"],
    ["Send a message through your running agent:", 'sixchat send bob@example.org "lunch at one?"'],
    ["Complete a shell's commands and options (bash; zsh and fish alike):", "source <(sixchat --completions bash)"]
  ],
  demo: [["Run the whole flow with the pure-JS crypto provider:", "sixchat demo --crypto noble"]],
  agent: [
    ["Run your agent on the default ports:", "sixchat agent --home ~/.sixchat"],
    ["Listen on one address and take no file without asking:", "sixchat agent --listen [::]:4605 --accept-files never"],
    ["Give up undeliverable messages after a day:", "sixchat agent --outbox-expiry 1d"]
  ],
  send: [
    ["Queue a message; the agent delivers it and prints nothing more:", 'sixchat send bob@example.org "hello"'],
    ["Queue it even though the IRP cannot be asked now:", 'sixchat send --queue bob@example.org "hello"']
  ],
  outbox: [
    ["What waits for delivery, and when it expires:", "sixchat outbox"],
    ["The same for a script:", "sixchat outbox --json | jq -r '.[].id'"]
  ],
  "outbox cancel": [["Withdraw a message before it is delivered:", "sixchat outbox cancel 01J9Z3K4M5N6P7Q8R9S0T1V2W3"]],
  "send-file": [["Offer a file and watch it go:", "sixchat send-file --wait bob@example.org ./report.pdf"]],
  accept: [["Take a file the agent held:", "sixchat accept bob@example.org 01J9Z3K4M5N6P7Q8R9S0T1V2W3"]],
  history: [
    ["The last 20 messages with bob:", "sixchat history --limit 20 bob@example.org"],
    ["Everything as JSON for a script:", "sixchat history --json | jq '.[].body'"]
  ],
  chat: [["Chat in the terminal:", "sixchat chat bob@example.org"]],
  contacts: [["Everyone the agent knows:", "sixchat contacts"]],
  "contact show": [["Compare the safety number in person:", "sixchat contact show --qr bob@example.org"]],
  "contact verify": [["Mark bob verified after comparing:", "sixchat contact verify bob@example.org"]],
  trust: [["Accept bob's new key after comparing the safety number:", "sixchat trust bob@example.org"]],
  status: [["What the agent is doing:", "sixchat status"]],
  "irp init": [
    ["Create a domain's CA and configuration:", "sixchat irp init --dir /var/lib/sixchat-irp --domain example.org"],
    [
      "The same, storing the domain in PostgreSQL (irp.json records it for serve, token and revoke):",
      "sixchat irp init --dir /var/lib/sixchat-irp --domain example.org --db postgres://irp@localhost/irp"
    ]
  ],
  "irp public-cert": [
    [
      "Store the public CA chain of irp.example.org for federation (again after each renewal):",
      "sixchat irp public-cert --dir /var/lib/sixchat-irp --server-cert fullchain.pem --server-key privkey.pem"
    ]
  ],
  "irp serve": [
    ["Serve the domain, logging JSON:", "sixchat irp serve --dir /var/lib/sixchat-irp --log-format json"],
    ["Serve from PostgreSQL:", "sixchat irp serve --dir /var/lib/sixchat-irp --db postgres://irp@localhost/irp"]
  ],
  "irp token": [
    [
      "An enrolment token for alice, valid a day:",
      "sixchat irp token --dir /var/lib/sixchat-irp --handle alice@example.org --ttl 1d"
    ]
  ],
  "irp revoke": [
    [
      "Revoke alice's certificate after a key leak:",
      "sixchat irp revoke --dir /var/lib/sixchat-irp --handle alice@example.org --reason keyCompromise"
    ]
  ],
  "id new": [
    ["A new key for alice, protected by a passphrase:", "sixchat id new --handle alice@example.org --protect"]
  ],
  "id enroll": [
    [
      "Enrol with the token the operator gave you:",
      "sixchat id enroll --irp irp.example.org --token TOKEN --trust example.org-ca.pem"
    ]
  ],
  "id show": [["Your handle, certificate and expiry:", "sixchat id show"]],
  "id passphrase": [["Protect the key file with a passphrase:", "sixchat id passphrase"]],
  "id rotate": [["A new key and certificate, the old one revoked:", "sixchat id rotate"]],
  register: [["Register by hand (the agent does this itself):", "sixchat register --address 192.0.2.7:4605"]],
  lookup: [["Where bob can be reached:", "sixchat lookup bob@example.org"]],
  revoke: [["Revoke your own certificate:", "sixchat revoke --reason keyCompromise"]],
  "peer listen": [["Wait for one peer:", "sixchat peer listen --key key.pem --cert cert.pem --listen [::1]:4605"]],
  "peer connect": [
    ["Talk to bob directly:", "sixchat peer connect --key key.pem --cert cert.pem --expect bob@example.org [::1]:4605"]
  ],
  doctor: [
    ["Check your home and say what to fix:", "sixchat doctor --home ~/.sixchat"],
    [
      "The same for a script (exit 1 when a check failed, 3 when only the IRP is unreachable):",
      "sixchat doctor --json | jq '.checks[] | select(.level != \"ok\")'"
    ]
  ],
  "cert verify": [
    ["Check a chain against a CA:", "sixchat cert verify --trust ca.pem --leaf bob.pem --at 2026-01-31T12:00:00Z"]
  ]
}

export const examplesOf = (path: ReadonlyArray<string>): Examples => EXAMPLES[path.join(" ")] ?? []
