/* libFuzzer: any bytes as a server and as a client config file. */
#include <stddef.h>
#include <stdint.h>

#include "mt6d/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char msg[512];

	if (config_parse(CONFIG_SERVER, (const char *)data, size, "fuzz", &cfg, msg,
			 sizeof(msg)) == 0)
		config_fini(&cfg);
	if (config_parse(CONFIG_CLIENT, (const char *)data, size, "fuzz", &cfg, msg,
			 sizeof(msg)) == 0)
		config_fini(&cfg);
	return 0;
}
