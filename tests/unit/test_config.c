#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "mt6d/core/config.h"

#define KEY_A "mGxW3Qk4kqV8cIsv0Q6cVl3rOaH6kJ0m4FGYyQvVnWE="
#define KEY_B "8H8ffu+/qJc0rXzB7pTgUyVY7j9h3PZ4a9EKuQq8jzQ="
#define KEY_C "2lVw7m3W1cVgqgEbq5fmPp6o7w6x0k0pQyQk1FmPUjo="

static const char server_ok[] =
	"# a server\n"
	"[Server]\n"
	"Interface = eth0\n"
	"PrivateKeyFile = /etc/mt6d/server.key\n"
	"RotationPeriod = 3s\n"
	"ConfigPeriod = 15min\n"
	"DHTPort = 6881\n"
	"DHTBootstrap = [2001:db8::1]:6881, dht.example:6881\n"
	"\n"
	"[Client]\n"
	"Name = alice\n"
	"PublicKey = " KEY_A "\n"
	"Id = 1\n"
	"Added = 2026-11-01\n"
	"Expires = 2027-11-01T00:00:00Z\n"
	"\n"
	"[client]\n"
	"name = bob\n"
	"publickey = " KEY_B "\n"
	"id = 16777215\n";

static const char client_ok[] =
	"[Client]\n"
	"Interface = eth0\n"
	"PrivateKeyFile = client.key\n"
	"ClientId = 7\n"
	"ConfigPeriod = 900\n"
	"[Server]\n"
	"PublicKey = " KEY_C "\n";

static void test_server_config_parses(void **state)
{
	(void)state;
	struct config cfg;
	char msg[256] = "";
	uint8_t key[32];

	assert_int_equal(config_parse(CONFIG_SERVER, server_ok, strlen(server_ok), "s.conf",
				      &cfg, msg, sizeof(msg)), 0);
	assert_string_equal(cfg.interface, "eth0");
	assert_string_equal(cfg.private_key_file, "/etc/mt6d/server.key");
	assert_int_equal(cfg.private_key_file_line, 4);
	assert_int_equal(cfg.rotation_ms, 3000);
	assert_int_equal(cfg.config_period_s, 900);
	assert_int_equal(cfg.dht_bootstrap_len, 2);
	assert_string_equal(cfg.dht_bootstrap[0], "[2001:db8::1]:6881");
	assert_string_equal(cfg.dht_bootstrap[1], "dht.example:6881");
	assert_int_equal(cfg.clients_len, 2);
	assert_string_equal(cfg.clients[0].name, "alice");
	assert_int_equal(cfg.clients[0].id, 1);
	assert_int_equal(cfg.clients[0].line, 10);
	assert_true(cfg.clients[0].added_s == 1793491200); /* 2026-11-01 UTC */
	assert_true(cfg.clients[0].expires_s == 1825027200);
	assert_string_equal(cfg.clients[1].name, "bob");
	assert_int_equal(cfg.clients[1].id, 16777215);
	assert_int_equal(config_parse_key(KEY_B, key, msg, sizeof(msg)), 0);
	assert_ptr_equal(config_client_by_key(&cfg, key), &cfg.clients[1]);
	assert_ptr_equal(config_client_by_id(&cfg, 1), &cfg.clients[0]);
	assert_null(config_client_by_id(&cfg, 2));
	config_fini(&cfg);
}

static void test_defaults_apply(void **state)
{
	(void)state;
	static const char text[] = "[Server]\nInterface=eth1\nPrivateKeyFile=k\n";
	struct config cfg;
	char msg[256];

	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "d", &cfg, msg,
				      sizeof(msg)), 0);
	assert_int_equal(cfg.rotation_ms, CONFIG_DEFAULT_ROTATION_MS);
	assert_int_equal(cfg.config_period_s, CONFIG_DEFAULT_CONFIG_PERIOD_S);
	assert_int_equal(cfg.dht_port, CONFIG_DEFAULT_DHT_PORT);
	assert_int_equal(cfg.padding, CONFIG_DEFAULT_PADDING);
	assert_int_equal(cfg.dht_bootstrap_len, 3);
	assert_string_equal(cfg.dht_bootstrap[0], "router.bittorrent.com:6881");
	assert_int_equal(cfg.clients_len, 0);
	config_fini(&cfg);
}

/* Padding, Offloads and Cipher in the self section of every role (the
 * other sections refuse them: the sender pads and seals and the TUN is this
 * host's, so they are this host's settings); Offloads is on unless said
 * off, Cipher ChaCha20-Poly1305 unless said AES-256-GCM. */
static void test_padding_and_offloads_in_every_role(void **state)
{
	(void)state;
	static const struct {
		enum config_role role;
		const char *text;
		uint32_t padding;
		bool is_off, is_aes;
	} cases[] = {
		{ CONFIG_SERVER, "[Server]\nInterface=e\nPrivateKeyFile=k\nPadding = off\n", 0, false,
		  false },
		{ CONFIG_SERVER, "[Server]\nInterface=e\nPrivateKeyFile=k\nPadding = 1420\n"
				 "Offloads = off\nCipher = aes-256-gcm\n", 1420, true, true },
		{ CONFIG_CLIENT, "[Client]\nInterface=e\nPrivateKeyFile=k\nClientId=1\nPADDING=OFF\n"
				 "OFFLOADS=Off\nCIPHER=AES-256-GCM\n[Server]\nPublicKey=" KEY_A "\n", 0,
		  true, true },
		{ CONFIG_PEER, "[Host]\nInterface=e\nPrivateKeyFile=k\nTunnelAddress=fd00::1\n"
			       "SeedAddress=2001:db8:1::1\nPadding=16\nOffloads=on\n"
			       "Cipher=chacha20-poly1305\n[Peer]\nPublicKey=" KEY_A
			       "\nSeedAddress=2001:db8:2::1\nTunnelAddress=fd00::2\n", 16, false, false },
		{ CONFIG_PEER, "[Host]\nInterface=e\nPrivateKeyFile=k\nTunnelAddress=fd00::1\n"
			       "SeedAddress=2001:db8:1::1\nPadding=65535\nOffloads=off\nCipher=aes-256-gcm\n"
			       "[Peer]\nPublicKey=" KEY_A "\nSeedAddress=2001:db8:2::1\n"
			       "TunnelAddress=fd00::2\n", 65535, true, true },
	};
	struct config cfg;
	char msg[256] = "";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(config_parse(cases[i].role, cases[i].text, strlen(cases[i].text),
					      "p.conf", &cfg, msg, sizeof(msg)), 0);
		assert_int_equal(cfg.padding, cases[i].padding);
		assert_int_equal(cfg.offloads_off, cases[i].is_off);
		assert_int_equal(cfg.is_cipher_aes, cases[i].is_aes);
		config_fini(&cfg);
	}
}

/* Queues, in a peer's [Host]: auto (the default, 0), 1..CONFIG_MAX_QUEUES;
 * more, 0, junk, a sign or a second Queues are refused, and so is the key
 * in a server's section (only mt6d-peer has a multi-queue TUN). */
static void test_peer_queues(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		int rc;
		unsigned queues;
	} cases[] = {
		{ NULL, 0, 0 }, { "auto", 0, 0 }, { "AUTO", 0, 0 }, { "1", 0, 1 }, { "2", 0, 2 },
		{ "4", 0, CONFIG_MAX_QUEUES }, { "5", -EINVAL, 0 }, { "0", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 }, { "2x", -EINVAL, 0 }, { "", -EINVAL, 0 },
		{ "2\nQueues = 2", -EINVAL, 0 },
	};
	char text[512], msg[256] = "";
	struct config cfg;
	static const char *server = "[Server]\nInterface=e\nPrivateKeyFile=k\nQueues=2\n";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc;

		snprintf(text, sizeof(text),
			 "[Host]\nInterface=e\nPrivateKeyFile=k\nTunnelAddress=fd00::1\n"
			 "SeedAddress=2001:db8:1::1\n%s%s%s[Peer]\nPublicKey=" KEY_A
			 "\nSeedAddress=2001:db8:2::1\nTunnelAddress=fd00::2\n",
			 cases[i].value ? "Queues = " : "", cases[i].value ? cases[i].value : "",
			 cases[i].value ? "\n" : "");
		rc = config_parse(CONFIG_PEER, text, strlen(text), "p.conf", &cfg, msg, sizeof(msg));
		assert_int_equal(rc, cases[i].rc);
		if (rc == 0) {
			assert_int_equal(cfg.tunnel_queues, cases[i].queues);
			config_fini(&cfg);
		} else {
			assert_non_null(strstr(msg, "Queues"));
		}
	}
	assert_int_equal(config_parse(CONFIG_SERVER, server, strlen(server), "s.conf", &cfg, msg,
				      sizeof(msg)), -EINVAL);
}

/* DHTPort: 0 (the default) is a random port per window; an old config's
 * fixed port stays valid; 65536 and junk are refused. */
static void test_dht_port_zero_random_fixed_kept(void **state)
{
	(void)state;
	static const char *ok[] = { "0", "6881", "65535" };
	static const uint16_t want[] = { 0, 6881, 65535 };
	struct config cfg;
	char text[128], msg[256];

	for (size_t i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "[Server]\nInterface=eth1\nPrivateKeyFile=k\nDHTPort=%s\n", ok[i]);
		assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "d", &cfg, msg,
					      sizeof(msg)), 0);
		assert_int_equal(cfg.dht_port, want[i]);
	}
	snprintf(text, sizeof(text), "[Server]\nInterface=eth1\nPrivateKeyFile=k\nDHTPort=65536\n");
	assert_true(config_parse(CONFIG_SERVER, text, strlen(text), "d", &cfg, msg, sizeof(msg)) < 0);
	snprintf(text, sizeof(text), "[Server]\nInterface=eth1\nPrivateKeyFile=k\nDHTPort=00x\n");
	assert_true(config_parse(CONFIG_SERVER, text, strlen(text), "d", &cfg, msg, sizeof(msg)) < 0);
}

/* DHTNodes: auto (the default) is three identities per registered client
 * (one per chunk) up to CONFIG_AUTO_DHT_NODES_MAX, at least one; a number
 * is taken as it is. */
static void test_dht_nodes_auto_and_fixed(void **state)
{
	(void)state;
	static const struct { const char *line; uint32_t setting; } ok[] = {
		{ "", 0 }, { "DHTNodes = auto\n", 0 }, { "DHTNodes = AUTO\n", 0 },
		{ "DHTNodes = 1\n", 1 }, { "DHTNodes = 32\n", 32 },
	};
	static const struct { uint32_t setting; size_t clients, want; } resolve[] = {
		{ 0, 0, 1 }, { 0, 1, 3 }, { 0, 2, 6 }, { 0, 3, 8 }, { 0, 4, 8 }, { 0, 8, 8 },
		{ 0, 12, 8 }, { 0, 16, 8 },
		{ 0, 15000, CONFIG_AUTO_DHT_NODES_MAX }, { 1, 12, 1 }, { 3, 0, 3 }, { 32, 2, 32 },
	};
	struct config cfg;
	char text[160], msg[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[Server]\nInterface=eth1\nPrivateKeyFile=k\n%s", ok[i].line);
		assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "d", &cfg, msg,
					      sizeof(msg)), 0);
		assert_int_equal(cfg.dht_nodes, ok[i].setting);
		config_fini(&cfg);
	}
	for (size_t i = 0; i < sizeof(resolve) / sizeof(resolve[0]); i++) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.dht_nodes = resolve[i].setting;
		cfg.clients_len = resolve[i].clients;
		assert_int_equal(config_dht_nodes(&cfg), resolve[i].want);
	}
}

/* RendezvousChannel: both by default, in the server's and the client's
 * file; anything else, or twice, is refused. */
static void test_rendezvous_channel(void **state)
{
	(void)state;
	static const char *values[] = { "both", "peers", "ITEMS" };
	static const enum config_rdv_channel want[] = { CONFIG_RDV_BOTH, CONFIG_RDV_PEERS,
							 CONFIG_RDV_ITEMS };
	struct config cfg;
	char text[256], msg[256];

	assert_int_equal(config_parse(CONFIG_CLIENT, client_ok, strlen(client_ok), "c", &cfg, msg,
				      sizeof(msg)), 0);
	assert_int_equal(cfg.rdv_channel, CONFIG_RDV_BOTH);
	config_fini(&cfg);
	for (size_t i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "[Server]\nInterface=eth1\nPrivateKeyFile=k\n"
			 "RendezvousChannel = %s\n", values[i]);
		assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s", &cfg, msg,
					      sizeof(msg)), 0);
		assert_int_equal(cfg.rdv_channel, want[i]);
		config_fini(&cfg);
		snprintf(text, sizeof(text), "[Client]\nInterface=eth0\nPrivateKeyFile=k\nClientId=7\n"
			 "RendezvousChannel = %s\n[Server]\nPublicKey = " KEY_C "\n", values[i]);
		assert_int_equal(config_parse(CONFIG_CLIENT, text, strlen(text), "c", &cfg, msg,
					      sizeof(msg)), 0);
		assert_int_equal(cfg.rdv_channel, want[i]);
		config_fini(&cfg);
	}
	snprintf(text, sizeof(text), "[Server]\nInterface=eth1\nPrivateKeyFile=k\nRendezvousChannel=dht\n");
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s", &cfg, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "both, peers or items"));
	snprintf(text, sizeof(text), "[Server]\nInterface=eth1\nPrivateKeyFile=k\n"
		 "RendezvousChannel=items\nRendezvousChannel=items\n");
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s", &cfg, msg, sizeof(msg)),
			 -EINVAL);
}

static void test_client_config_parses(void **state)
{
	(void)state;
	struct config cfg;
	char msg[256] = "";
	uint8_t key[32];

	assert_int_equal(config_parse(CONFIG_CLIENT, client_ok, strlen(client_ok), "c.conf",
				      &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(cfg.client_id, 7);
	assert_int_equal(config_parse_key(KEY_C, key, msg, sizeof(msg)), 0);
	assert_memory_equal(cfg.server_public_key, key, 32);
	config_fini(&cfg);
}

static const char peer_ok[] =
	"[Host]\n"
	"Interface = veth0\n"
	"PrivateKeyFile = a.key\n"
	"TunnelName = mt6dp%d\n"
	"TunnelAddress = 2001:db8:ffff::1/64\n"
	"SeedAddress = 2001:db8:1:0:1111:2222:3333:4444\n"
	"RotationPeriod = 1s\n"
	"[Peer]\n"
	"PublicKey = " KEY_B "\n"
	"SeedAddress = 2001:db8:2::5555\n"
	"TunnelAddress = 2001:db8:ffff::2\n";

static void test_peer_config_parses(void **state)
{
	(void)state;
	struct config cfg;
	char msg[256] = "";
	uint8_t key[32], addr[16];
	static const char psk_iid[] =
		"[Host]\nInterface = eth0\nTunnelAddress = fd00::1\nSeedIID = ::1:2:3:4\n"
		"[Peer]\nPresharedKeyFile = psk\nSeedAddress = 2001:db8:2::5\n"
		"TunnelAddress = fd00::2\n";

	assert_int_equal(config_parse(CONFIG_PEER, peer_ok, strlen(peer_ok), "p.conf", &cfg, msg,
				      sizeof(msg)), 0);
	assert_string_equal(cfg.interface, "veth0");
	assert_string_equal(cfg.tunnel_name, "mt6dp%d");
	assert_int_equal(cfg.tunnel_prefix_len, 64);
	assert_int_equal(cfg.rotation_ms, 1000);
	assert_true(cfg.has_seed_prefix);
	assert_true(cfg.has_peer_public_key);
	assert_int_equal(config_parse_key(KEY_B, key, msg, sizeof(msg)), 0);
	assert_memory_equal(cfg.peer_public_key, key, 32);
	assert_int_equal(config_parse_address("2001:db8:1:0:1111:2222:3333:4444", addr, NULL, msg,
					      sizeof(msg)), 0);
	assert_memory_equal(cfg.seed_address, addr, 16);
	assert_int_equal(config_parse_address("2001:db8:ffff::2", addr, NULL, msg, sizeof(msg)), 0);
	assert_memory_equal(cfg.peer_tunnel_address, addr, 16);
	assert_int_equal(cfg.preshared_key_file[0], 0);
	config_fini(&cfg);

	assert_int_equal(config_parse(CONFIG_PEER, psk_iid, strlen(psk_iid), "q.conf", &cfg, msg,
				      sizeof(msg)), 0);
	assert_false(cfg.has_seed_prefix);
	assert_false(cfg.has_peer_public_key);
	assert_string_equal(cfg.preshared_key_file, "psk");
	assert_int_equal(cfg.preshared_key_file_line, 6);
	assert_string_equal(cfg.tunnel_name, CONFIG_DEFAULT_TUNNEL_NAME);
	assert_int_equal(cfg.tunnel_prefix_len, 128);
	assert_int_equal(cfg.rotation_ms, CONFIG_DEFAULT_ROTATION_MS);
	assert_true(sodium_is_zero(cfg.seed_address, 8));
	assert_int_equal(cfg.seed_address[15], 4);
	config_fini(&cfg);
}

struct bad_case {
	enum config_role role;
	const char *text;
	const char *expect; /* substring of the message, with file and line */
};

#define SRV "[Server]\nInterface = eth0\nPrivateKeyFile = k\n"
/* HOST is 5 lines, PEER 4. */
#define HOST "[Host]\nInterface = e\nPrivateKeyFile = k\nTunnelAddress = fd00::1\n" \
	"SeedAddress = 2001:db8:1::1\n"
#define PEER "[Peer]\nPublicKey = " KEY_A "\nSeedAddress = 2001:db8:2::1\nTunnelAddress = fd00::2\n"
#define CLI_SELF "[Client]\nInterface = eth0\nPrivateKeyFile = k\nClientId = 3\n"

static const struct bad_case bad_cases[] = {
	{ CONFIG_SERVER, "[Server]\nInterface = eth0\nRotationPeriod = 0\nPrivateKeyFile=k\n",
	  "bad.conf:3: RotationPeriod: must be between 100ms and 60s: '0'" },
	{ CONFIG_SERVER, SRV "ConfigPeriod = 0\n", "bad.conf:4: ConfigPeriod: must be between" },
	{ CONFIG_SERVER, SRV "RotationPeriod = 3 parsecs\n", "bad.conf:4: RotationPeriod: unknown unit" },
	{ CONFIG_SERVER, SRV "Colour = blue\n", "bad.conf:4: Colour: unknown option in [Server]: 'blue'" },
	{ CONFIG_SERVER, SRV "[Peers]\nX = 1\n", "bad.conf:4: unknown section [Peers]" },
	{ CONFIG_SERVER, SRV "[Bogus]\n", "bad.conf:4: unknown section [Bogus]" },
	{ CONFIG_SERVER, SRV "Interface = eth1\n", "bad.conf:4: Interface: given twice in this section" },
	{ CONFIG_SERVER, SRV "[Server]\nDHTPort=1\n", "bad.conf:4: [Server] given twice" },
	{ CONFIG_SERVER, SRV "DHTPort = -1\n", "bad.conf:4: DHTPort: not a port number" },
	{ CONFIG_SERVER, SRV "DHTPort = 65536\n", "bad.conf:4: DHTPort: not a port number" },
	{ CONFIG_SERVER, SRV "DHTNodes = 0\n", "bad.conf:4: DHTNodes: must be auto or a number of DHT nodes from 1 to 32: '0'" },
	{ CONFIG_SERVER, SRV "DHTNodes = 33\n", "bad.conf:4: DHTNodes: must be auto or a number of DHT nodes from 1 to 32" },
	{ CONFIG_SERVER, SRV "DHTNodes = 4x\n", "bad.conf:4: DHTNodes: must be auto or a number" },
	{ CONFIG_SERVER, SRV "DHTNodes = -1\n", "bad.conf:4: DHTNodes: must be auto or a number" },
	{ CONFIG_SERVER, SRV "DHTNodes = 99999999999999999999999\n", "bad.conf:4: DHTNodes: must be auto" },
	{ CONFIG_SERVER, SRV "DHTNodes = 2\nDHTNodes = 3\n", "bad.conf:5: DHTNodes: given twice in this section" },
	{ CONFIG_CLIENT, CLI_SELF "DHTNodes = 2\n", "DHTNodes: unknown option in [Client]" },
	{ CONFIG_SERVER, SRV "DHTBootstrap = 2001:db8::1:6881\n", "bad.conf:4: DHTBootstrap: expected host:port" },
	{ CONFIG_SERVER, SRV "DHTBootstrap = ,\n", "bad.conf:4: DHTBootstrap: no bootstrap node given" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nPublicKey = abc\nId = 1\n",
	  "bad.conf:6: PublicKey: not a key" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nPublicKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nId = 1\n",
	  "bad.conf:6: PublicKey: the all-zero key" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nPublicKey = " KEY_A "\nId = 0\n",
	  "bad.conf:7: Id: must be a number from 1 to 16777215: '0'" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nPublicKey = " KEY_A "\nId = 16777216\n",
	  "bad.conf:7: Id: must be a number" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nPublicKey = " KEY_A "\nId = 1\n"
	  "[Client]\nName = b\nPublicKey = " KEY_B "\nId = 1\n",
	  "bad.conf:8: Id: 1 is also the id of 'a' (line 4)" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nPublicKey = " KEY_A "\nId = 1\n"
	  "[Client]\nName = b\nPublicKey = " KEY_A "\nId = 2\n",
	  "bad.conf:8: PublicKey: 'b' has the same key as 'a' (line 4)" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nPublicKey = " KEY_A "\nId = 1\n"
	  "[Client]\nName = a\nPublicKey = " KEY_B "\nId = 2\n",
	  "bad.conf:8: Name: 'a' is also the name" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nId = 1\n", "bad.conf:4: PublicKey: missing in [Client] 'a'" },
	{ CONFIG_SERVER, SRV "[Client]\n", "bad.conf:4: Name: missing" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a b\n", "bad.conf:5: Name: must be 1-32 characters" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nPublicKey = " KEY_A "\nId = 1\nAdded = yesterday\n",
	  "bad.conf:8: Added: not a date" },
	/* The Expires line, wherever Added stands, not the section header. */
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nPublicKey = " KEY_A "\nId = 1\nAdded = 2026-01-02\nExpires = 2026-01-01\n",
	  "bad.conf:9: Expires: is not after Added" },
	{ CONFIG_SERVER, SRV "[Client]\nName = a\nExpires = 2026-01-01\nPublicKey = " KEY_A "\nId = 1\nAdded = 2026-01-02\n"
	  "[Client]\nName = b\nPublicKey = " KEY_B "\nId = 2\n",
	  "bad.conf:6: Expires: is not after Added" },
	{ CONFIG_SERVER, "Interface = eth0\n", "bad.conf:1: Interface: option outside of any section" },
	{ CONFIG_SERVER, "[Server]\nInterface eth0\n", "bad.conf:2: syntax error" },
	{ CONFIG_SERVER, "[Server\nInterface = eth0\n", "bad.conf:1: syntax error" },
	{ CONFIG_SERVER, "", "bad.conf:1: no [Server] section" },
	{ CONFIG_SERVER, "[Server]\nPrivateKeyFile = k\n", "bad.conf:3: Interface: missing in [Server]" },
	{ CONFIG_SERVER, "[Server]\nInterface = eth0\n", "PrivateKeyFile: missing in [Server]" },
	{ CONFIG_SERVER, SRV "Interface2 = 0123456789abcdefg\n", "unknown option" },
	{ CONFIG_SERVER, "[Server]\nInterface = 0123456789abcdefg\nPrivateKeyFile=k\n",
	  "bad.conf:2: Interface: longer than 15 characters" },
	{ CONFIG_SERVER, SRV "RotationPeriod = 60s\nConfigPeriod = 10s\n",
	  "ConfigPeriod: must be at least two rotation periods" },
	{ CONFIG_SERVER, SRV "ConfigPeriod = 1500ms\n", "bad.conf:4: ConfigPeriod: must be between" },
	{ CONFIG_SERVER, SRV "Padding = 15\n",
	  "bad.conf:4: Padding: must be off or a bucket of 16 to 65535 bytes: '15'" },
	{ CONFIG_SERVER, SRV "Padding = 65536\n", "bad.conf:4: Padding: must be off or a bucket" },
	{ CONFIG_SERVER, SRV "Padding = on\n", "bad.conf:4: Padding: must be off or a bucket" },
	{ CONFIG_SERVER, SRV "Padding = 256\nPadding = off\n", "bad.conf:5: Padding: given twice" },
	{ CONFIG_SERVER, SRV "Offloads = yes\n", "bad.conf:4: Offloads: must be on or off: 'yes'" },
	{ CONFIG_SERVER, SRV "Offloads = on\nOffloads = off\n", "bad.conf:5: Offloads: given twice" },
	{ CONFIG_SERVER, SRV "Cipher = aes\n",
	  "bad.conf:4: Cipher: must be chacha20-poly1305 or aes-256-gcm: 'aes'" },
	{ CONFIG_SERVER, SRV "Cipher = aes-256-gcm\nCipher = aes-256-gcm\n",
	  "bad.conf:5: Cipher: given twice" },
	{ CONFIG_PEER, HOST PEER "Cipher = aes-256-gcm\n", "unknown option" },
	{ CONFIG_CLIENT, CLI_SELF "Padding = 256B\n", "bad.conf:5: Padding: must be off or a bucket" },
	{ CONFIG_PEER, HOST "Padding = -1\n" PEER, "bad.conf:6: Padding: must be off or a bucket" },
	{ CONFIG_CLIENT, CLI_SELF, "no [Server] section" },
	{ CONFIG_CLIENT, CLI_SELF "[Server]\nPublicKey = " KEY_A "\n[Server]\n", "bad.conf:7: [Server] given twice" },
	{ CONFIG_CLIENT, CLI_SELF "[Server]\nEndpoint = x\n", "bad.conf:6: Endpoint: unknown option in [Server]" },
	{ CONFIG_CLIENT, CLI_SELF "RotationPeriod = 3s\n", "bad.conf:5: RotationPeriod: unknown option in [Client]" },
	{ CONFIG_CLIENT, "[Client]\nInterface = eth0\nPrivateKeyFile = k\n[Server]\nPublicKey = " KEY_A "\n",
	  "ClientId: missing in [Client]" },
	{ CONFIG_CLIENT, CLI_SELF "[Server]\n", "PublicKey: missing in [Server]" },
	{ CONFIG_PEER, HOST "SeedIID = ::1\n" PEER, "bad.conf:6: SeedIID: give SeedAddress or SeedIID" },
	{ CONFIG_PEER, HOST "ConfigPeriod = 15min\n" PEER, "bad.conf:6: ConfigPeriod: unknown option in [Host]" },
	{ CONFIG_PEER, HOST "TunnelName = a/b\n" PEER, "bad.conf:6: TunnelName: must be an interface name" },
	{ CONFIG_PEER, HOST "TunnelName = a%s\n" PEER, "bad.conf:6: TunnelName: must be an interface name" },
	{ CONFIG_PEER, HOST "TunnelAddress = fd00::9/0\n" PEER, "bad.conf:6: TunnelAddress: given twice" },
	{ CONFIG_PEER, "[Host]\nInterface = e\nTunnelAddress = fd00::1/129\n",
	  "bad.conf:3: TunnelAddress: prefix length must be 1-128" },
	{ CONFIG_PEER, "[Host]\nInterface = e\nTunnelAddress = ff02::1\n",
	  "bad.conf:3: TunnelAddress: must be a unicast address" },
	{ CONFIG_PEER, "[Host]\nSeedAddress = fe80::1\n", "bad.conf:2: SeedAddress: must be a global unicast" },
	{ CONFIG_PEER, "[Host]\nSeedAddress = 2001:db8::\n", "bad.conf:2: SeedAddress: the seed IID" },
	{ CONFIG_PEER, "[Host]\nSeedAddress = 2001:db8::1/64\n", "bad.conf:2: SeedAddress: an address without /prefix" },
	{ CONFIG_PEER, "[Host]\nSeedIID = 2001:db8::1\n", "bad.conf:2: SeedIID: must be a non-zero 64-bit IID" },
	{ CONFIG_PEER, "[Host]\nSeedIID = banana\n", "bad.conf:2: SeedIID: not an IPv6 address" },
	{ CONFIG_PEER, HOST PEER "Endpoint = x\n", "bad.conf:10: Endpoint: unknown option in [Peer]" },
	{ CONFIG_PEER, HOST PEER "[Peer]\n", "bad.conf:10: [Peer] given twice" },
	{ CONFIG_PEER, HOST "[Server]\n", "bad.conf:6: unknown section [Server] (a peer file has [Host] and [Peer])" },
	{ CONFIG_PEER, HOST, "no [Peer] section" },
	{ CONFIG_PEER, PEER, "no [Host] section" },
	{ CONFIG_PEER, "[Host]\nPrivateKeyFile = k\n" PEER, "Interface: missing in [Host]" },
	{ CONFIG_PEER, "[Host]\nInterface = e\nPrivateKeyFile = k\nSeedIID = ::1\n" PEER,
	  "TunnelAddress: missing in [Host]" },
	{ CONFIG_PEER, "[Host]\nInterface = e\nPrivateKeyFile = k\nTunnelAddress = fd00::1\n" PEER,
	  "SeedAddress: missing in [Host] (or give SeedIID)" },
	{ CONFIG_PEER, HOST "[Peer]\nPublicKey = " KEY_A "\nTunnelAddress = fd00::2\n",
	  "SeedAddress: missing in [Peer]" },
	{ CONFIG_PEER, HOST "[Peer]\nPublicKey = " KEY_A "\nSeedAddress = 2001:db8:2::1\n",
	  "TunnelAddress: missing in [Peer]" },
	{ CONFIG_PEER, HOST "[Peer]\nSeedAddress = 2001:db8:2::1\nTunnelAddress = fd00::2\n",
	  "PublicKey: missing in [Peer] (needed with PrivateKeyFile)" },
	{ CONFIG_PEER, "[Host]\nInterface = e\nTunnelAddress = fd00::1\nSeedIID = ::1\n" PEER,
	  "PrivateKeyFile: missing in [Host] (needed with the peer's PublicKey)" },
	{ CONFIG_PEER, "[Host]\nInterface = e\nTunnelAddress = fd00::1\nSeedIID = ::1\n"
	  "[Peer]\nSeedAddress = 2001:db8:2::1\nTunnelAddress = fd00::2\n", "no key:" },
	{ CONFIG_PEER, HOST "[Peer]\nPublicKey = " KEY_A "\nSeedAddress = 2001:db8:2::1\n"
	  "TunnelAddress = fd00::1\n", "TunnelAddress: the two ends have the same tunnel address" },
	{ CONFIG_PEER, "[Host]\nInterface = e\nPrivateKeyFile = k\nTunnelAddress = fd00::1\n"
	  "SeedAddress = 2001:db8:2::1\n" PEER, "SeedAddress: the two ends have the same seed address" },
};

static void test_bad_configs_name_file_line_and_value(void **state)
{
	(void)state;
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct config cfg;
		char msg[512] = "";
		int rc = config_parse(bad_cases[i].role, bad_cases[i].text,
				      strlen(bad_cases[i].text), "bad.conf", &cfg, msg, sizeof(msg));
		if (rc != -EINVAL || !strstr(msg, bad_cases[i].expect)) {
			print_error("case %zu: rc %d, message \"%s\", expected \"%s\"\n", i, rc, msg,
				    bad_cases[i].expect);
			fail();
		}
	}
}

static void test_long_line_is_an_error(void **state)
{
	(void)state;
	char text[1024], msg[256];
	struct config cfg;

	snprintf(text, sizeof(text), SRV "StateDirectory = /%0600d\n", 0);
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "long.conf", &cfg, msg,
				      sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "long.conf:4: line longer than"));
}

static void test_embedded_nul_does_not_crash(void **state)
{
	(void)state;
	static const char text[] = "[Server]\nInterface = et\0h0\nPrivateKeyFile = k\n";
	struct config cfg;
	char msg[256];

	/* The NUL becomes a space inside the value, which is then legal text. */
	assert_int_equal(config_parse(CONFIG_SERVER, text, sizeof(text) - 1, "nul.conf", &cfg,
				      msg, sizeof(msg)), 0);
	assert_string_equal(cfg.interface, "et h0");
	config_fini(&cfg);
}

static void test_value_parsers(void **state)
{
	(void)state;
	uint64_t ms;
	uint16_t port;
	int64_t t;
	char msg[128];

	assert_int_equal(config_parse_duration_ms("500ms", &ms, msg, sizeof(msg)), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(config_parse_duration_ms("3", &ms, msg, sizeof(msg)), 0);
	assert_int_equal(ms, 3000);
	assert_int_equal(config_parse_duration_ms("2h", &ms, msg, sizeof(msg)), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(config_parse_duration_ms("-1s", &ms, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(config_parse_duration_ms("99999999999999999999s", &ms, msg, sizeof(msg)),
			 -EINVAL);
	assert_int_equal(config_parse_duration_ms("18446744073709551615h", &ms, msg, sizeof(msg)),
			 -EINVAL);
	assert_int_equal(config_parse_port("6881", &port, msg, sizeof(msg)), 0);
	assert_int_equal(port, 6881);
	assert_int_equal(config_parse_port("6881x", &port, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(config_parse_hostport("[2001:db8::1]:1", msg, sizeof(msg)), 0);
	assert_int_equal(config_parse_hostport("[2001:db8::zz]:1", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(config_parse_hostport("host:", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(config_parse_hostport("-host:1", msg, sizeof(msg)), -EINVAL);
	assert_int_equal(config_parse_date("1970-01-02", &t, msg, sizeof(msg)), 0);
	assert_true(t == 86400);
	assert_int_equal(config_parse_date("2026-13-01", &t, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(config_parse_date("2026-11-01T25:00:00Z", &t, msg, sizeof(msg)), -EINVAL);
}

static void test_load_reports_missing_file(void **state)
{
	(void)state;
	struct config cfg;
	char msg[256];
	char path[] = "/tmp/mt6d-test-config-XXXXXX";
	int fd;

	assert_int_equal(config_load(CONFIG_SERVER, "/nonexistent/mt6d.conf", &cfg, msg,
				     sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "/nonexistent/mt6d.conf: No such file"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, server_ok, strlen(server_ok)), (ssize_t)strlen(server_ok));
	close(fd);
	assert_int_equal(config_load(CONFIG_SERVER, path, &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(cfg.clients_len, 2);
	assert_string_equal(cfg.source, path);
	config_fini(&cfg);
	unlink(path);
}

/* AddressMode = routed: Prefix required, a /64, not overlapping
 * TunnelPrefix, refused without routed. */
static void test_routed_prefix(void **state)
{
	static const char head[] = "[Server]\nInterface = eth0\nPrivateKeyFile = k\n";
	static const struct {
		const char *keys, *err;
	} bad[] = {
		{ "AddressMode = routed\n", "Prefix: missing in [Server]" },
		{ "Prefix = 2001:db8:0:f1::/64\n", "Prefix: only with AddressMode = routed" },
		{ "AddressMode = scale\nPrefix = 2001:db8:0:f1::/64\n", "only with AddressMode" },
		{ "AddressMode = routed\nPrefix = 2001:db8:0:f1::/48\n", "s.conf:5: Prefix" },
		{ "AddressMode = routed\nPrefix = 2001:db8:0:f1::/72\n", "must be a /64" },
		{ "AddressMode = routed\nPrefix = 2001:db8:0:f1::5/64\n", "must be a /64" },
		{ "AddressMode = routed\nPrefix = 2001:db8:0:f1::\n", "must be a /64" },
		{ "AddressMode = routed\nPrefix = ff02::/64\n", "unicast" },
		{ "AddressMode = routed\nPrefix = 2001:db8:0:f1::/64\nPrefix = 2001:db8:0:f2::/64\n",
		  "Prefix" },
		{ "AddressMode = routed\nPrefix = 2001:db8:0:f1::/64\nTunnelPrefix = 2001:db8::/48\n",
		  "overlaps TunnelPrefix" },
		{ "TunnelPrefix = 2001:db8:0:f1::/64\nAddressMode = routed\nPrefix = 2001:db8:0:f1::/64\n",
		  "overlaps TunnelPrefix" },
	};
	struct config cfg;
	char text[512], msg[256] = "";
	size_t i;

	(void)state;
	snprintf(text, sizeof(text), "%sAddressMode = routed\nPrefix = 2001:db8:0:f1::/64\n"
		 "TunnelPrefix = 2001:db8:ffff::/64\n", head);
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s.conf", &cfg, msg,
				      sizeof(msg)), 0);
	assert_true(cfg.is_routed_mode);
	assert_true(cfg.is_scale_mode); /* the same claim as scale mode */
	assert_true(cfg.has_prefix);
	assert_int_equal(cfg.prefix[7], 0xf1);
	config_fini(&cfg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", head, bad[i].keys);
		msg[0] = '\0';
		assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s.conf", &cfg, msg,
					      sizeof(msg)), -EINVAL);
		if (!strstr(msg, bad[i].err))
			fail_msg("case %zu: '%s' lacks '%s'", i, msg, bad[i].err);
	}
	/* Clients have no Prefix. */
	snprintf(text, sizeof(text), "[Client]\nInterface = eth0\nPrivateKeyFile = k\nClientId = 1\n"
		 "Prefix = 2001:db8:0:f1::/64\n[Server]\nPublicKey = " KEY_C "\n");
	assert_int_equal(config_parse(CONFIG_CLIENT, text, strlen(text), "c.conf", &cfg, msg,
				      sizeof(msg)), -EINVAL);
}

/* Many clients: the registry grows and every id and key stays unique. */
/* Session tunnel addresses (docs/PROTOCOL.md section 11): a server's
 * TunnelPrefix of at most /64, TunnelName on servers and clients. */
static void test_tunnel_prefix_and_name(void **state)
{
	static const char head[] = "[Server]\nInterface = eth0\nPrivateKeyFile = k\n";
	struct config cfg;
	char text[512], msg[256] = "";

	(void)state;
	snprintf(text, sizeof(text), "%sTunnelPrefix = 2001:db8:ffff::/64\nTunnelName = intro%%d\n",
		 head);
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s.conf", &cfg, msg,
				      sizeof(msg)), 0);
	assert_true(cfg.has_tunnel_prefix);
	assert_int_equal(cfg.tunnel_prefix_len, 64);
	assert_int_equal(cfg.tunnel_address[0], 0x20);
	assert_int_equal(cfg.tunnel_address[5], 0xff);
	assert_string_equal(cfg.tunnel_name, "intro%d");
	config_fini(&cfg);
	assert_int_equal(config_parse(CONFIG_SERVER, head, strlen(head), "s.conf", &cfg, msg,
				      sizeof(msg)), 0);
	assert_false(cfg.has_tunnel_prefix);
	assert_string_equal(cfg.tunnel_name, CONFIG_DEFAULT_TUNNEL_NAME);
	assert_false(cfg.is_scale_mode);
	config_fini(&cfg);
	snprintf(text, sizeof(text), "%sTunnelPrefix = 2001:db8:ffff::/65\n", head);
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s.conf", &cfg, msg,
				      sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "s.conf:4: TunnelPrefix"));
	snprintf(text, sizeof(text), "%sAddressMode = scale\n", head);
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s.conf", &cfg, msg,
				      sizeof(msg)), 0);
	assert_true(cfg.is_scale_mode);
	config_fini(&cfg);
	snprintf(text, sizeof(text), "%sAddressMode = per-address\n", head);
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s.conf", &cfg, msg,
				      sizeof(msg)), 0);
	assert_false(cfg.is_scale_mode);
	config_fini(&cfg);
	snprintf(text, sizeof(text), "%sAddressMode = both\n", head);
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s.conf", &cfg, msg,
				      sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "s.conf:4: AddressMode"));
	snprintf(text, sizeof(text), "%sTunnelName = a/b\n", head);
	assert_int_equal(config_parse(CONFIG_SERVER, text, strlen(text), "s.conf", &cfg, msg,
				      sizeof(msg)), -EINVAL);
	/* Clients name their interface but have no prefix: the server grants
	 * their tunnel address. */
	{
		char ctext[512];

		snprintf(ctext, sizeof(ctext),
			 "[Client]\nInterface = eth0\nPrivateKeyFile = k\nClientId = 1\n"
			 "TunnelName = wlan-mt6d\n[Server]\nPublicKey = " KEY_C "\n");
		assert_int_equal(config_parse(CONFIG_CLIENT, ctext, strlen(ctext), "c.conf", &cfg,
					      msg, sizeof(msg)), 0);
		assert_string_equal(cfg.tunnel_name, "wlan-mt6d");
		config_fini(&cfg);
		snprintf(ctext, sizeof(ctext),
			 "[Client]\nInterface = eth0\nPrivateKeyFile = k\nClientId = 1\n"
			 "TunnelPrefix = 2001:db8::/64\n[Server]\nPublicKey = " KEY_C "\n");
		assert_int_equal(config_parse(CONFIG_CLIENT, ctext, strlen(ctext), "c.conf", &cfg,
					      msg, sizeof(msg)), -EINVAL);
	}
}

/* A server file with n registered clients (ids 1..n). */
static char *server_with_clients(const char *server_lines, size_t n, size_t *len_out)
{
	size_t cap = 256 + n * 128, len, i;
	char *text = malloc(cap);

	assert_non_null(text);
	len = (size_t)snprintf(text, cap, SRV "%s", server_lines);
	for (i = 0; i < n; i++) {
		uint8_t key[32];
		char b64[64];

		memset(key, 0, sizeof(key));
		key[0] = (uint8_t)(i + 1);
		key[1] = (uint8_t)((i + 1) >> 8);
		sodium_bin2base64(b64, sizeof(b64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
		len += (size_t)snprintf(text + len, cap - len,
					"[Client]\nName = c%zu\nPublicKey = %s\nId = %zu\n", i, b64,
					i + 1);
	}
	*len_out = len;
	return text;
}

static void test_many_clients(void **state)
{
	size_t n = 2000, len;
	char *text = server_with_clients("", n, &len), msg[256];
	struct config cfg;

	(void)state;
	assert_int_equal(config_parse(CONFIG_SERVER, text, len, "many", &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(cfg.clients_len, n);
	assert_int_equal(cfg.clients[n - 1].id, n);
	config_fini(&cfg);
	free(text);
}

/* SessionInterface: the three values, anything else refused with file and
 * line, a second one refused; auto is per-client up to
 * CONFIG_SHARED_AUTO_CLIENTS registered clients and shared above. */
static bool session_shared(const char *server_lines, size_t n_clients, int *rc_out, char *msg,
			   size_t msg_len)
{
	struct config cfg;
	size_t len;
	char *text = server_with_clients(server_lines, n_clients, &len);
	bool is_shared = false;

	*rc_out = config_parse(CONFIG_SERVER, text, len, "s.conf", &cfg, msg, msg_len);
	if (*rc_out == 0) {
		is_shared = config_is_session_interface_shared(&cfg);
		config_fini(&cfg);
	}
	free(text);
	return is_shared;
}

/* SlotSockets: shared only in scale mode; auto follows a shared session
 * interface there; anything else refused. */
static bool slot_shared(const char *server_lines, int *rc_out, char *msg, size_t msg_len)
{
	struct config cfg;
	size_t len;
	char *text = server_with_clients(server_lines, 3, &len);
	bool is_shared = false;

	*rc_out = config_parse(CONFIG_SERVER, text, len, "s.conf", &cfg, msg, msg_len);
	if (*rc_out == 0) {
		is_shared = config_is_slot_sockets_shared(&cfg);
		config_fini(&cfg);
	}
	free(text);
	return is_shared;
}

static void test_slot_sockets(void **state)
{
	char msg[256] = "";
	int rc;

	(void)state;
	assert_false(slot_shared("", &rc, msg, sizeof(msg)));
	assert_int_equal(rc, 0);
	assert_false(slot_shared("AddressMode = scale\n", &rc, msg, sizeof(msg)));
	assert_true(slot_shared("AddressMode = scale\nSessionInterface = shared\n", &rc, msg,
				sizeof(msg)));
	assert_true(slot_shared("AddressMode = scale\nSessionInterface = shared\nSlotSockets = auto\n",
				&rc, msg, sizeof(msg)));
	assert_false(slot_shared("AddressMode = scale\nSessionInterface = shared\n"
				 "SlotSockets = per-session\n", &rc, msg, sizeof(msg)));
	assert_int_equal(rc, 0);
	assert_true(slot_shared("AddressMode = scale\nSlotSockets = shared\n", &rc, msg, sizeof(msg)));
	/* per-address mode: the sockets stay per session */
	assert_false(slot_shared("SessionInterface = shared\nSlotSockets = shared\n", &rc, msg,
				 sizeof(msg)));
	assert_int_equal(rc, 0);
	assert_false(slot_shared("SlotSockets = one\n", &rc, msg, sizeof(msg)));
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(msg, "per-session, shared or auto"));
	slot_shared("SlotSockets = shared\nSlotSockets = shared\n", &rc, msg, sizeof(msg));
	assert_int_equal(rc, -EINVAL);
}

static void test_session_interface(void **state)
{
	char msg[256] = "";
	int rc;

	(void)state;
	assert_false(session_shared("", 3, &rc, msg, sizeof(msg)));
	assert_int_equal(rc, 0);
	assert_true(session_shared("SessionInterface = shared\n", 3, &rc, msg, sizeof(msg)));
	assert_int_equal(rc, 0);
	assert_true(session_shared("SessionInterface = SHARED\n", 0, &rc, msg, sizeof(msg)));
	assert_false(session_shared("SessionInterface = per-client\n", 3, &rc, msg, sizeof(msg)));
	assert_int_equal(rc, 0);
	assert_false(session_shared("SessionInterface = per-client\n", CONFIG_SHARED_AUTO_CLIENTS + 1,
				    &rc, msg, sizeof(msg)));
	assert_int_equal(rc, 0);
	/* auto, written or not: the threshold itself is still per-client */
	assert_false(session_shared("SessionInterface = auto\n", CONFIG_SHARED_AUTO_CLIENTS, &rc,
				    msg, sizeof(msg)));
	assert_int_equal(rc, 0);
	assert_false(session_shared("", CONFIG_SHARED_AUTO_CLIENTS, &rc, msg, sizeof(msg)));
	assert_true(session_shared("SessionInterface = auto\n", CONFIG_SHARED_AUTO_CLIENTS + 1, &rc,
				   msg, sizeof(msg)));
	assert_int_equal(rc, 0);
	assert_true(session_shared("", CONFIG_SHARED_AUTO_CLIENTS + 1, &rc, msg, sizeof(msg)));
	assert_false(session_shared("SessionInterface = perclient\n", 1, &rc, msg, sizeof(msg)));
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(msg, "s.conf:4: SessionInterface"));
	assert_non_null(strstr(msg, "per-client, shared or auto"));
	assert_false(session_shared("SessionInterface =\n", 1, &rc, msg, sizeof(msg)));
	assert_int_equal(rc, -EINVAL);
	session_shared("SessionInterface = shared\nSessionInterface = per-client\n", 1, &rc, msg,
		       sizeof(msg));
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(msg, "s.conf:5: SessionInterface"));
	/* a server's key only */
	{
		static const char peer[] = "[Host]\nInterface = eth0\nPrivateKeyFile = k\n"
					   "SessionInterface = shared\n";
		struct config cfg;

		assert_int_equal(config_parse(CONFIG_PEER, peer, strlen(peer), "p.conf", &cfg, msg,
					      sizeof(msg)), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_config_parses),
		cmocka_unit_test(test_defaults_apply),
		cmocka_unit_test(test_padding_and_offloads_in_every_role),
		cmocka_unit_test(test_peer_queues),
		cmocka_unit_test(test_dht_port_zero_random_fixed_kept),
		cmocka_unit_test(test_dht_nodes_auto_and_fixed),
		cmocka_unit_test(test_rendezvous_channel),
		cmocka_unit_test(test_client_config_parses),
		cmocka_unit_test(test_peer_config_parses),
		cmocka_unit_test(test_bad_configs_name_file_line_and_value),
		cmocka_unit_test(test_long_line_is_an_error),
		cmocka_unit_test(test_embedded_nul_does_not_crash),
		cmocka_unit_test(test_value_parsers),
		cmocka_unit_test(test_load_reports_missing_file),
		cmocka_unit_test(test_many_clients),
		cmocka_unit_test(test_tunnel_prefix_and_name),
		cmocka_unit_test(test_routed_prefix),
		cmocka_unit_test(test_session_interface),
		cmocka_unit_test(test_slot_sockets),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
