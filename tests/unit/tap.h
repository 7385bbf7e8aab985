/* tap.h: a tiny TAP producer for the C unit tests (run by prove). */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

#define plan(n) printf("1..%d\n", (n))
#define ok(cond, ...)                                                          \
	do {                                                                       \
		int ok_ = !!(cond);                                                    \
		printf("%sok %d - ", ok_ ? "" : "not ", ++tap_n);                      \
		printf(__VA_ARGS__);                                                   \
		printf("\n");                                                          \
		if (!ok_) {                                                            \
			tap_failed++;                                                      \
			fprintf(stderr, "#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                      \
	} while (0)
#define is_str(got, want, ...)                                                 \
	do {                                                                       \
		const char *g_ = (got), *w_ = (want);                                  \
		int same_ = (g_ && w_) ? !strcmp(g_, w_) : g_ == w_;                   \
		ok(same_, __VA_ARGS__);                                                \
		if (!same_)                                                            \
			fprintf(stderr, "#   got:  '%s'\n#   want: '%s'\n", g_ ? g_ : "(null)", \
			        w_ ? w_ : "(null)");                                       \
	} while (0)
#define is_int(got, want, ...)                                                 \
	do {                                                                       \
		long long g_ = (got), w_ = (want);                                     \
		ok(g_ == w_, __VA_ARGS__);                                             \
		if (g_ != w_)                                                          \
			fprintf(stderr, "#   got:  %lld\n#   want: %lld\n", g_, w_);       \
	} while (0)
#define done_testing() (fflush(stdout), tap_failed ? 1 : 0)

#endif
