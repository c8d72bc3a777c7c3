/**
 * The zone the discovery tests serve from dnsmasq (`*.test`, PROTOCOL.md §21): one line per record.
 */
const srv = (domain: string, target: string, port: number, priority: number, weight: number) =>
  `--srv-host=_sixchat-irp._tcp.${domain},${target},${port},${priority},${weight}`

export const records: ReadonlyArray<string> = [
  // other.test: three priorities, two targets sharing the lowest one, one target without addresses.
  srv("other.test", "irp1.other.test", 4604, 10, 60),
  srv("other.test", "irp2.other.test", 4610, 10, 20),
  srv("other.test", "irp3.other.test", 4611, 20, 0),
  srv("other.test", "irp4.other.test", 4612, 30, 5),
  "--host-record=irp1.other.test,127.0.0.1,::1,60",
  "--host-record=irp2.other.test,127.0.0.3,90",
  "--host-record=irp4.other.test,::1,45",
  // plain.test: no SRV record, so irp.plain.test port 4604 (A only).
  "--host-record=irp.plain.test,127.0.0.2,120",
  // closed.test: target "." (dnsmasq writes an SRV record without a target as the root name).
  "--srv-host=_sixchat-irp._tcp.closed.test",
  // noaddr.test: an SRV record whose target has no address.
  srv("noaddr.test", "nowhere.noaddr.test", 4604, 0, 0),
  // many.test: more SRV records than the cap.
  ...Array.from({ length: 17 }, (_, i) => srv("many.test", `irp${i}.many.test`, 4604, i, 1)),
  // cached.test: its own names, so the query counts of the caching test see only that test.
  srv("cached.test", "irp.cached.test", 4604, 0, 0),
  "--host-record=irp.cached.test,127.0.0.9,60",
  "--srv-host=_sixchat-irp._tcp.closedcache.test",
  // together.test: its own names, for the test of concurrent discoveries sharing one.
  srv("together.test", "irp.together.test", 4604, 0, 0),
  "--host-record=irp.together.test,127.0.0.10,60"
]
