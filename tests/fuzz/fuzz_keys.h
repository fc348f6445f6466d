/* Test-only SSH keys for the fuzz harnesses, generated once with ssh-keygen (-N ''). They
 * protect nothing: never use them outside tests/fuzz/. Embedded so no harness reads files. */
#ifndef ALKNET_FUZZ_KEYS_H
#define ALKNET_FUZZ_KEYS_H

/* ssh-keygen -t ed25519: host key */
static const char fuzz_host_ed25519[] =
	"-----BEGIN OPENSSH PRIVATE KEY-----\n"
	"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
	"QyNTUxOQAAACD7otxkTZ42xr8ySRnIDYckPXkKAOnsUVl6GlyVQ5/J8wAAAKhCIdm2QiHZ\n"
	"tgAAAAtzc2gtZWQyNTUxOQAAACD7otxkTZ42xr8ySRnIDYckPXkKAOnsUVl6GlyVQ5/J8w\n"
	"AAAEBqG05JVIqGADYjYz5pG6V5Gawt8DGT/t4rodFSn6MmNPui3GRNnjbGvzJJGcgNhyQ9\n"
	"eQoA6exRWXoaXJVDn8nzAAAAIGFsa25ldCBmdXp6IGhvc3Qga2V5ICh0ZXN0IG9ubHkpAQ\n"
	"IDBAU=\n"
	"-----END OPENSSH PRIVATE KEY-----\n";

/* ssh-keygen -t ecdsa -b 256: host key */
static const char fuzz_host_ecdsa256[] =
	"-----BEGIN OPENSSH PRIVATE KEY-----\n"
	"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAaAAAABNlY2RzYS\n"
	"1zaGEyLW5pc3RwMjU2AAAACG5pc3RwMjU2AAAAQQRNlt9V72y0B6x0zHQDQsGCY4dI4lxh\n"
	"zxh2gb4ra6hNUCTnl3gpd622B8HOYuK25xHM1YM2mgocL2LBkC4MUnwWAAAAoD8idhM/In\n"
	"YTAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBE2W31XvbLQHrHTM\n"
	"dANCwYJjh0jiXGHPGHaBvitrqE1QJOeXeCl3rbYHwc5i4rbnEczVgzaaChwvYsGQLgxSfB\n"
	"YAAAAgHfFoQW45PgmnDTnL8lKJK3dS4uNl9vafJnAVKC+8mwYAAAAEcDI1NgECAwQ=\n"
	"-----END OPENSSH PRIVATE KEY-----\n";

/* ssh-keygen -t rsa -b 1024: host key (small: signing speed) */
static const char fuzz_host_rsa1024[] =
	"-----BEGIN OPENSSH PRIVATE KEY-----\n"
	"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlwAAAAdzc2gtcn\n"
	"NhAAAAAwEAAQAAAIEA5i9xZYdOkj0w5UAu2BKG58ER7iP5x/GRb+op6/VwlIuFk+Ok0nEE\n"
	"evAFKbnhOvcqfMTvVMSSkg9rNvNuFMXL6Mevp5zz7Ai6ooZ37OBaIcNlzONfCYmJRD6qHM\n"
	"47CWkCk8oTKgcpzSoKj0Hyae6PcSVnJ417kuWT2q+8VWjdHDEAAAIAJbhQyCW4UMgAAAAH\n"
	"c3NoLXJzYQAAAIEA5i9xZYdOkj0w5UAu2BKG58ER7iP5x/GRb+op6/VwlIuFk+Ok0nEEev\n"
	"AFKbnhOvcqfMTvVMSSkg9rNvNuFMXL6Mevp5zz7Ai6ooZ37OBaIcNlzONfCYmJRD6qHM47\n"
	"CWkCk8oTKgcpzSoKj0Hyae6PcSVnJ417kuWT2q+8VWjdHDEAAAADAQABAAAAgQCS15Evg7\n"
	"HL+N1IYjl//dGx5qjZknm145U0H92+eUToflkojwCGfzKsepHQnJPiWerwzXEgUoZuRwfO\n"
	"dlyzQ7tf/sUfhHFeJdPCmb7ltME9oXVgXFqKkdSV7OgRpF3QD3AS9DGCCUQXrt+r2ZH5Zy\n"
	"BOQfiMagu9e8ukRupRXvTUAQAAAEB2ZHR/5iy+N3N15OeJ+BpeqAIsX7jbaReJgo5TcTzX\n"
	"FYGA5PFkoeqUs58OBNdq2B+phg2Nn9DIj5gn/EbrLezQAAAAQQD1wGPv2InoytvjC4VfOv\n"
	"0kU2aVbLDGv0Tk2zeUTTiGuEuDHLTglO1pnKZCcrGSIa5Lx9LuJWw+O+7gfGLrQr25AAAA\n"
	"QQDvyN608HSyAC7+VP4QgnjDNHuNwegEiIFAizS0AUkDmYba32VoxdqjlKQqU2sznPNVBm\n"
	"gaVspqi41AUVXgBs45AAAAB3JzYTEwMjQBAgM=\n"
	"-----END OPENSSH PRIVATE KEY-----\n";

/* ssh-keygen -t ed25519: the session harness's client key */
static const char fuzz_client_ed25519[] =
	"-----BEGIN OPENSSH PRIVATE KEY-----\n"
	"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
	"QyNTUxOQAAACD79jQEv1NOE79hSrk+alDwEhe67qQlXLMxJlSGQvtH4QAAAKh8NT6/fDU+\n"
	"vwAAAAtzc2gtZWQyNTUxOQAAACD79jQEv1NOE79hSrk+alDwEhe67qQlXLMxJlSGQvtH4Q\n"
	"AAAEDNia9KcRJ1vxbUA5BT/GrRQHqVt8gJj4znol2PYcJog/v2NAS/U04Tv2FKuT5qUPAS\n"
	"F7rupCVcszEmVIZC+0fhAAAAImFsa25ldCBmdXp6IGNsaWVudCBrZXkgKHRlc3Qgb25seS\n"
	"kBAgM=\n"
	"-----END OPENSSH PRIVATE KEY-----\n";

#endif
