/* alknet: an SSH server for TCP tunnels only. Only this file calls exit(). */
#include <stdlib.h>

#include "config.h"
#include "server.h"

int main(int argc, char **argv)
{
	struct config cfg;
	struct server srv;

	switch (config_parse(argc, argv, &cfg)) {
	case CONFIG_EXIT:
		config_free(&cfg);
		return 0;
	case CONFIG_ERROR:
		config_free(&cfg);
		return 2;
	default:
		break;
	}
	int status = 1;
	if (server_init(&srv, &cfg) == 0)
		status = server_run(&srv);
	server_free(&srv);
	config_free(&cfg);
	return status;
}
