/* libFuzzer: any bytes as a server, a client and a peer config file. */
#include <stddef.h>
#include <stdint.h>

#include "mt6d/core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum config_role roles[] = { CONFIG_SERVER, CONFIG_CLIENT, CONFIG_PEER };
	struct config cfg;
	char msg[512];
	size_t i;

	for (i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (config_parse(roles[i], (const char *)data, size, "fuzz", &cfg, msg,
				 sizeof(msg)) == 0)
			config_fini(&cfg);
	return 0;
}
