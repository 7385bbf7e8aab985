/* spritesd: a local server for the Sprites API, running each sprite as a
 * bubblewrap sandbox on this machine.  See spritesd(1). */
#include "spritesd.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: spritesd [-l ADDR:PORT] [-d STATEDIR] [--tls-cert FILE --tls-key FILE]\n"
	        "  -l ADDR:PORT  listen address (default 127.0.0.1:%d; port 0 picks a free one)\n"
	        "  -d STATEDIR   state directory (default $XDG_STATE_HOME/spritesd)\n"
	        "  --tls-cert FILE, --tls-key FILE  serve HTTPS/WSS with this certificate\n"
	        "  --idle-timeout SECONDS  a sprite with nothing running goes cold after this (default %d)\n"
	        "  --volume-size SIZE  the sparse btrfs image made for checkpoints when run as root\n"
	        "                (default 64G; 0: none)\n"
	        "  --max-memory SIZE  a sprite's memory, tmpfs included (default: 8G or half of this host's)\n"
	        "  --max-disk SIZE    a sprite's files (default: 100G or half of their filesystem; 0: no limit)\n"
	        "  --max-pids N       a sprite's processes and threads (default: 4096 or pid_max/8)\n"
	        "  --share PATH       show this host file or directory read-only in every sprite; repeatable\n"
	        "  --ids-dir DIR      where this host's spritesds record their sprites' id ranges\n"
	        "                     (default: /run/spritesd/ids)\n"
	        "  --resolve HOST=IP  (for tests) the proxy resolves HOST to IP; repeatable\n"
	        "  -q            do not log requests\n"
	        "  -h            show this help\n",
	        SPRITESD_DEFAULT_PORT, IDLE_TIMEOUT_DEFAULT_S);
}

/* --resolve HOST=IP: the sprites' proxy takes HOST to be at IP (tests use
 * it to give names to loopback servers). */
static void add_resolve(json_t *map, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char host[256], ip[256];
	int is_ip = 0, ip_ip = 0;
	if (!eq || (size_t)(eq - arg) >= sizeof host)
		die(EXIT_USAGE, "bad --resolve \"%s\": use HOST=IP, e.g. example.test=127.0.0.1", arg);
	memcpy(host, arg, (size_t)(eq - arg));
	host[eq - arg] = '\0';
	if (policy_host_normalize(host, host, sizeof host, &is_ip) < 0 || is_ip ||
	    policy_host_normalize(eq + 1, ip, sizeof ip, &ip_ip) < 0 || !ip_ip)
		die(EXIT_USAGE, "bad --resolve \"%s\": use HOST=IP, a host name and an IP address", arg);
	json_object_set_new(map, host, json_string(ip));
}

#define SIZE_FORMS "a size like 8G, 512M, 64MiB or 1048576 (bytes; suffixes K, M, G, T)"

/* --max-memory, --max-disk: a size of at least min bytes (0 too, if zero_ok). */
static long long limit_size(const char *opt, const char *arg, long long min, int zero_ok)
{
	long long n = volume_parse_size(arg);
	if (n < 0 || (n < min && !(zero_ok && n == 0)))
		die(EXIT_USAGE, "bad %s \"%s\": use %s, at least %lldM%s", opt, arg, SIZE_FORMS,
		    min >> 20, zero_ok ? ", or 0 for no limit" : "");
	return n;
}

/* --share PATH: an absolute path to something that exists. */
static void add_share(char ***shares, size_t *n, const char *arg)
{
	struct stat st;
	if (arg[0] != '/' || strstr(arg, "/../") || stat(arg, &st) < 0)
		die(EXIT_USAGE, "bad --share \"%s\": use the absolute path of a host file or directory", arg);
	*shares = xrealloc(*shares, (*n + 2) * sizeof **shares);
	(*shares)[(*n)++] = xstrdup(arg);
	(*shares)[*n] = NULL;
}


/* The token file: created once (random, 0600), then reused across restarts. */
static char *load_or_create_token(const char *statedir)
{
	char *path = xasprintf("%s/token", statedir);
	char *tok = read_file(path, 4096, NULL);
	if (tok && *rtrim(tok)) {
		free(path);
		return tok;
	}
	free(tok);
	uint8_t raw[24];
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		die(EXIT_FAIL, "cannot get random bytes for the token: %s", strerror(errno));
	char hex[2 * sizeof raw + 2];
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	strcat(hex, "\n");
	if (write_file_atomic(path, hex, 0600) < 0)
		die(EXIT_FAIL, "cannot write %s: %s", path, strerror(errno));
	free(path);
	hex[2 * sizeof raw] = '\0';
	return xstrdup(hex);
}

/* Split "ADDR:PORT" ("[::1]:PORT" for IPv6). */
static void parse_listen(const char *arg, char **addr, int *port)
{
	const char *colon = strrchr(arg, ':');
	if (!colon)
		die(EXIT_USAGE, "bad listen address \"%s\": use ADDR:PORT, e.g. 127.0.0.1:0", arg);
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535 || colon[1] == '\0')
		die(EXIT_USAGE, "bad port in \"%s\": use 0-65535", arg);
	size_t n = (size_t)(colon - arg);
	if (n >= 2 && arg[0] == '[' && arg[n - 1] == ']')
		arg++, n -= 2;
	*addr = n ? strndup(arg, n) : xstrdup("127.0.0.1");
	*port = (int)p;
}

static int is_loopback(const char *addr)
{
	return !strncmp(addr, "127.", 4) || !strcmp(addr, "::1") || !strcmp(addr, "localhost");
}

/* lws's errors, except the one lws 4.1 logs at error level for every
 * connection handed over with lws_adopt_socket_vhost_readbuf. */
static void lws_log(int level, const char *line)
{
	(void)level;
	if (!strstr(line, "calling service"))
		fprintf(stderr, "spritesd: lws: %s", line);
}

/* SIGINT/SIGTERM arrive through a signalfd in the event loop (no handlers,
 * no globals): the protocol below stops the server cleanly. */
static int signal_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                           void *in, size_t len)
{
	(void)user, (void)in, (void)len;
	if (reason == LWS_CALLBACK_RAW_RX_FILE) {
		struct signalfd_siginfo si;
		int fd = lws_get_socket_fd(wsi);
		if (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
			struct server *srv = server_of(wsi);
			srv->stopping = 1;
			lws_cancel_service(srv->context);
		}
	}
	return 0;
}

/* Descriptors: as many as we may have (the soft limit is often 1024 where
 * the hard one is far more), then shares of them.  A quarter is kept for
 * the API, lws and connections still sending their head; sprites' tunnels
 * (2 each) and sessions (pipes, pidfd, a client: about 5) share the rest,
 * and one sprite may take a quarter of each share, so that one sprite
 * hoarding them leaves the API and the other sprites working. */
static void fd_budget(struct server *srv)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &srv->fds.inherited) < 0)
		srv->fds.inherited.rlim_cur = srv->fds.inherited.rlim_max = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1 << 20) ? (1 << 20) : rl.rlim_max;
		if (want > rl.rlim_cur) {
			rl.rlim_cur = want;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	long limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 1024;
	long shared = limit - limit / 4;
	unsigned tunnels = (unsigned)(shared / 2 / 2), sessions = (unsigned)(shared / 2 / 5);
	srv->fds.tunnels_total = tunnels;
	srv->fds.sessions_total = sessions;
	/* (1024 at most: each tunnel may have a lookup thread of its own) */
	srv->fds.tunnels_sprite = tunnels / 4 > 1024 ? 1024 : tunnels / 4 < 4 ? 4 : tunnels / 4;
	srv->fds.sessions_sprite = sessions / 4 > 1024 ? 1024 : sessions / 4 < 4 ? 4 : sessions / 4;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], SPRITE_INIT_ARG))
		return sprite_init(); /* in a sandbox (init.c) */
	set_progname(argv[0]);
	char *listen_arg = NULL, *statedir = NULL, *tls_cert = NULL, *tls_key = NULL;
	int quiet = 0;
	long long idle_s = IDLE_TIMEOUT_DEFAULT_S;
	long long volume_size = VOLUME_SIZE_DEFAULT;
	json_t *resolve = json_object();
	long long max_memory = -1, max_disk = -1, max_pids = -1;
	char **shares = NULL;
	size_t n_shares = 0;
	const char *ids_dir = "/run/spritesd/ids";
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "state-dir", required_argument, NULL, 'd' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "volume-size", required_argument, NULL, 'V' },
		{ "resolve", required_argument, NULL, 'R' },
		{ "max-memory", required_argument, NULL, 'M' },
		{ "max-disk", required_argument, NULL, 'D' },
		{ "max-pids", required_argument, NULL, 'P' },
		{ "share", required_argument, NULL, 'S' },
		{ "ids-dir", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "l:d:qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': listen_arg = optarg; break;
		case 'd': statedir = optarg; break;
		case 'C': tls_cert = optarg; break;
		case 'K': tls_key = optarg; break;
		case 'q': quiet = 1; break;
		case 'I': {
			char *end;
			idle_s = strtoll(optarg, &end, 10);
			if (*end || idle_s < 1)
				die(EXIT_USAGE, "bad --idle-timeout \"%s\": use a number of seconds, at least 1", optarg);
			break;
		}
		case 'V':
			volume_size = volume_parse_size(optarg);
			/* btrfs cannot be made smaller than about 110 MiB. */
			if (volume_size < 0 || (volume_size > 0 && volume_size < (256LL << 20)))
				die(EXIT_USAGE, "bad --volume-size \"%s\": use a size like 64G or 512M "
				    "(at least 256M), or 0 for no volume", optarg);
			break;
		case 'R': add_resolve(resolve, optarg); break;
		case 'M': max_memory = limit_size("--max-memory", optarg, 32LL << 20, 0); break;
		case 'D': max_disk = limit_size("--max-disk", optarg, 64LL << 20, 1); break;
		case 'P': {
			char *end;
			max_pids = strtoll(optarg, &end, 10);
			if (*end || end == optarg || max_pids < 16 || max_pids > (1 << 22))
				die(EXIT_USAGE, "bad --max-pids \"%s\": use a number of processes, 16 to 4194304", optarg);
			break;
		}
		case 'S': add_share(&shares, &n_shares, optarg); break;
		case 'U':
			if (optarg[0] != '/')
				die(EXIT_USAGE, "bad --ids-dir \"%s\": use an absolute path", optarg);
			ids_dir = optarg;
			break;
		case 'h': usage(stdout); return EXIT_OK;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!tls_cert != !tls_key)
		die(EXIT_USAGE, "--tls-cert and --tls-key go together");

	char *addr;
	int port;
	if (listen_arg) {
		parse_listen(listen_arg, &addr, &port);
	} else {
		addr = xstrdup("127.0.0.1");
		port = SPRITESD_DEFAULT_PORT;
	}
	if (!is_loopback(addr))
		warnx_("listening on %s: sprites are reachable from the network with the token", addr);

	struct server srv;
	memset(&srv, 0, sizeof srv);
	srv.resolve = resolve;
	srv.statedir = statedir ? xstrdup(statedir) : spritesd_default_statedir();
	if (mkdir_p(srv.statedir, 0700) < 0)
		die(EXIT_FAIL, "cannot create state directory %s: %s", srv.statedir, strerror(errno));
	/* Absolute: its sprites' directories name them host-wide (idreg.c). */
	char *absolute = realpath(srv.statedir, NULL);
	if (absolute) {
		free(srv.statedir);
		srv.statedir = absolute;
	}
	char *sprites_dir = xasprintf("%s/sprites", srv.statedir);
	if (mkdir_p(sprites_dir, 0700) < 0)
		die(EXIT_FAIL, "cannot create %s: %s", sprites_dir, strerror(errno));
	free(sprites_dir);

	char *lock_path = xasprintf("%s/lock", srv.statedir);
	srv.lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (srv.lock_fd < 0 || flock(srv.lock_fd, LOCK_EX | LOCK_NB) < 0)
		die(EXIT_FAIL, "another spritesd is already using %s (stop it first, or use -d DIR)",
		    srv.statedir);
	free(lock_path);
	/* Under the lock: two spritesds must not both make the volume. */
	volume_setup(&srv, volume_size);
	limits_default(&srv.limits, srv.statedir);
	if (max_memory >= 0)
		srv.limits.memory = max_memory;
	if (max_disk >= 0)
		srv.limits.disk = max_disk;
	if (max_pids >= 0)
		srv.limits.pids = max_pids;
	srv.shares = shares;
	srv.ids_dir = xstrdup(ids_dir);
	fd_budget(&srv);
	/* Should the host run out of memory, the sprites' processes (1000,
	 * cgroup_join, and never below 0) go before spritesd: it goes below 0
	 * itself where it may (CAP_SYS_RESOURCE; containers often lack it). */
	write_to("/proc/self/oom_score_adj", "-500");
	/* Before anything is listening: it forks. */
	sandbox_setup(&srv);

	srv.token = load_or_create_token(srv.statedir);
	srv.scratch_len = LWS_PRE + 1 + FRAME_CHUNK;
	srv.scratch = xmalloc(srv.scratch_len);

	/* Block the stop signals before any child exists; children unblock. */
	sigset_t stopsigs;
	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &stopsigs, NULL);
	int sigfd = signalfd(-1, &stopsigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0)
		die(EXIT_FAIL, "signalfd: %s", strerror(errno));

	lws_set_log_level(LLL_ERR, lws_log);

	static const struct lws_protocols protocols[] = {
		{ "sprites", sprites_callback, sizeof(struct conn), 0, 0, NULL, 0 },
		{ "sprite-fd", fd_callback, 0, 0, 0, NULL, 0 },
		{ "sprite-sandbox", sandbox_fd_callback, 0, 0, 0, NULL, 0 },
		{ "sprite-signal", signal_callback, 0, 0, 0, NULL, 0 },
		{ "sprite-listen", listen_fd_callback, 0, 0, 0, NULL, 0 },
		{ "sprite-sniff", sniff_fd_callback, 0, 0, 0, NULL, 0 },
		{ "sprite-proxy", proxy_callback, 0, 0, 0, NULL, 0 },
		{ "sprite-proxy-listen", proxy_listen_callback, 0, 0, 0, NULL, 0 },
		{ "sprite-checkpoint", checkpoint_fd_callback, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 },
	};
	/* Ping idle clients so dead connections are noticed (the SDKs ping us
	 * every 15 s too). */
	static const lws_retry_bo_t keepalive = {
		.secs_since_valid_ping = 20,
		.secs_since_valid_hangup = 60,
	};

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	/* Without TLS we accept connections ourselves (listen.c says why). */
	info.port = tls_cert ? port : CONTEXT_PORT_NO_LISTEN_SERVER;
	info.iface = tls_cert ? addr : NULL;
	info.protocols = protocols;
	info.user = &srv;
	info.max_http_header_data = 65535;   /* exec URLs carry argv and env */
	info.max_http_header_pool = 64;
	info.pt_serv_buf_size = 64 * 1024;
	info.retry_and_idle_policy = &keepalive;
	info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
	               LWS_SERVER_OPTION_DISABLE_IPV6 * !strchr(addr, ':');
	info.timeout_secs = 30;
	if (tls_cert) {
		/* HTTP/1.1 only, as the API is (spec 9.1); no h2 via ALPN. */
		info.alpn = "http/1.1";
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = tls_cert;
		info.ssl_private_key_filepath = tls_key;
	}
	srv.context = lws_create_context(&info);
	if (!srv.context)
		die(EXIT_FAIL, "cannot listen on %s:%d (in use? try -l 127.0.0.1:0)", addr, port);
	srv.vhost = lws_get_vhost_by_name(srv.context, "default");
	int bound;
	if (tls_cert) {
		bound = lws_get_vhost_listen_port(srv.vhost);
	} else {
		char err[256];
		if (listen_start(&srv, addr, port, err, sizeof err) < 0)
			die(EXIT_FAIL, "%s (in use? try -l 127.0.0.1:0)", err);
		bound = srv.port;
	}

	lws_sock_file_fd_type fdt = { .filefd = sigfd };
	if (!lws_adopt_descriptor_vhost(srv.vhost, LWS_ADOPT_RAW_FILE_DESC, fdt, "sprite-signal", NULL))
		die(EXIT_FAIL, "cannot watch signals");

	const char *host = strcmp(addr, "0.0.0.0") == 0 ? "127.0.0.1" : addr;
	srv.base_url = strchr(host, ':') ? xasprintf("%s://[%s]:%d", tls_cert ? "https" : "http", host, bound)
	                                 : xasprintf("%s://%s:%d", tls_cert ? "https" : "http", host, bound);
	if (store_load(&srv) < 0)
		die(EXIT_FAIL, "cannot read the sprites in %s", srv.statedir);

	char *url_path = xasprintf("%s/url", srv.statedir);
	char *url_line = xasprintf("%s\n", srv.base_url);
	if (write_file_atomic(url_path, url_line, 0644) < 0)
		die(EXIT_FAIL, "cannot write %s: %s", url_path, strerror(errno));
	free(url_line);

	srv.log_requests = !quiet;
	srv.idle_timeout_ms = idle_s * 1000;
	sandbox_idle_watch(&srv);
	fprintf(stderr, "spritesd: listening on %s (state in %s)\n", srv.base_url, srv.statedir);

	while (!srv.stopping)
		if (lws_service(srv.context, 0) < 0)
			break;

	fprintf(stderr, "spritesd: stopping (sandboxes keep running; the next spritesd adopts them)\n");
	/* Leave the url file only while we serve it. */
	unlink(url_path);
	free(url_path);
	srv.stopping = 1;     /* callbacks from the context's end start nothing new */
	lws_context_destroy(srv.context);
	srv.context = NULL;   /* (proxy.c: no lws calls after this) */
	store_free_all(&srv);
	json_decref(srv.resolve);
	free(srv.scratch);
	free(srv.token);
	free(srv.base_url);
	free(srv.statedir);
	free(srv.ids_dir);
	free(srv.no_checkpoints);
	free(srv.no_sandboxes);
	free(srv.no_disk_limits);
	cgroup_free(&srv);
	if (srv.filter)
		seccomp_filter_free(srv.filter);
	free(srv.filter);
	for (char **share = shares; share && *share; share++)
		free(*share);
	free(shares);
	free(addr);
	return EXIT_OK;
}
