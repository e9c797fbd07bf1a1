/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * xts.c — the sector cipher's front (xts.h): argument checks, the backends table, their
 * start-up self-tests (run once per process and kept) and the choice of the backend that
 * envol_xts_new() uses.  The work itself is in the backends (sector_cipher.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/sector_cipher.h"
#include "crypto/xts.h"
#include "util/log.h"
#include "util/macros.h"

#define XTS_HALF (ENVOL_XTS_KEY_SIZE / 2)

static const struct sector_cipher_ops *const xts_backends[ENVOL_XTS_BACKEND_MAX] = {
	[ENVOL_XTS_BACKEND_OPENSSL] = &sector_cipher_openssl,
	[ENVOL_XTS_BACKEND_GCRYPT] = &sector_cipher_gcrypt,
	[ENVOL_XTS_BACKEND_VAES] = &sector_cipher_vaes,
};

/*
 * auto's order, fastest first (docs/performance.md, "Sector cipher backends"); also the order a
 * backend that fails its self-test falls back in.  openssl, the portable one, comes last.
 */
static const enum envol_xts_backend xts_preference[] = {
	ENVOL_XTS_BACKEND_VAES,
	ENVOL_XTS_BACKEND_GCRYPT,
	ENVOL_XTS_BACKEND_OPENSSL,
};

struct envol_xts {
	const struct sector_cipher_ops *ops;
	void *state;
	enum envol_xts_backend backend;
	unsigned sector_size;
	unsigned sector_shift;
};

/*
 * Process-wide, under xts_lock: each backend's self-test result once it has run, and the
 * backend envol_xts_new() uses (AUTO until envol_xts_select() or the first envol_xts_new()).
 */
static pthread_mutex_t xts_lock = PTHREAD_MUTEX_INITIALIZER;
static bool xts_tested[ENVOL_XTS_BACKEND_MAX];
static int xts_status[ENVOL_XTS_BACKEND_MAX];
static char xts_why[ENVOL_XTS_BACKEND_MAX][160];
static enum envol_xts_backend xts_selected = ENVOL_XTS_BACKEND_AUTO;
static int xts_select_r; /* the last selection's result when it found nothing: -EIO */

const char *envol_xts_backend_to_string(enum envol_xts_backend b)
{
	if (b == ENVOL_XTS_BACKEND_AUTO)
		return "auto";
	if (b > ENVOL_XTS_BACKEND_AUTO && b < ENVOL_XTS_BACKEND_MAX && xts_backends[b])
		return xts_backends[b]->name;
	return NULL;
}

enum envol_xts_backend envol_xts_backend_from_string(const char *s)
{
	for (int b = 0; s && b < ENVOL_XTS_BACKEND_MAX; b++) {
		const char *name = envol_xts_backend_to_string((enum envol_xts_backend)b);

		if (name && strcmp(name, s) == 0)
			return (enum envol_xts_backend)b;
	}
	return ENVOL_XTS_BACKEND_INVALID;
}

int sector_cipher_stub_new(const uint8_t key[ENVOL_XTS_KEY_SIZE], void **ret)
{
	return -EIO;
}

void sector_cipher_stub_free(void *state)
{
}

int sector_cipher_stub_crypt(void *state, bool enc, uint64_t sector, unsigned sector_shift,
			     uint8_t *buf, size_t n)
{
	return -EIO;
}

/* Runs b's self-test unless it has run; its result.  Under xts_lock. */
static int status_locked(enum envol_xts_backend b)
{
	const struct sector_cipher_ops *ops = xts_backends[b];

	if (!xts_tested[b]) {
		xts_status[b] = sector_cipher_selftest(ops, xts_why[b], sizeof xts_why[b]);
		if (xts_status[b] == 0)
			snprintf(xts_why[b], sizeof xts_why[b], "%s", ops->describe());
		else
			log_debug("sector cipher %s: %s: %s", ops->name,
				  xts_status[b] == -EOPNOTSUPP ? "not usable" : "self-test failed",
				  xts_why[b]);
		/* -ENOMEM is not a verdict on the backend: run the test again next time. */
		xts_tested[b] = xts_status[b] != -ENOMEM;
	}
	return xts_status[b];
}

int envol_xts_backend_status(enum envol_xts_backend b, char *why, size_t why_len)
{
	int r;

	if (b <= ENVOL_XTS_BACKEND_AUTO || b >= ENVOL_XTS_BACKEND_MAX)
		return -EINVAL;
	pthread_mutex_lock(&xts_lock);
	r = status_locked(b);
	if (why && why_len)
		snprintf(why, why_len, "%s", xts_why[b]);
	pthread_mutex_unlock(&xts_lock);
	return r;
}

/* FIPS mode: OpenSSL's default properties ask for it, or the kernel runs in FIPS mode. */
static bool fips_mode(void)
{
	char c = 0;
	int fd;

	if (EVP_default_properties_is_fips_enabled(NULL))
		return true;
	fd = open("/proc/sys/crypto/fips_enabled", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == '1';
}

_printf_(3, 4) static void append(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strnlen(buf, len);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static const char *status_word(int r)
{
	return r == 0 ? "passed" : r == -EOPNOTSUPP ? "not usable" : "FAILED";
}

int sector_cipher_choose(enum envol_xts_backend want, const int status[ENVOL_XTS_BACKEND_MAX],
			 const char *const whys[ENVOL_XTS_BACKEND_MAX], bool fips, char *why,
			 size_t why_len)
{
	enum envol_xts_backend got = ENVOL_XTS_BACKEND_INVALID;
	char head[160] = "";

	if (fips) {
		if (status[ENVOL_XTS_BACKEND_OPENSSL] == 0)
			got = ENVOL_XTS_BACKEND_OPENSSL;
		snprintf(head, sizeof head, "FIPS mode: only openssl may be used%s",
			 want != ENVOL_XTS_BACKEND_AUTO && want != ENVOL_XTS_BACKEND_OPENSSL ?
				 " (server.cipher_backend ignored)" :
				 "");
	} else if (want != ENVOL_XTS_BACKEND_AUTO && status[want] == 0) {
		got = want;
		snprintf(head, sizeof head, "as configured");
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(xts_preference) && got < 0; i++)
			if (status[xts_preference[i]] == 0)
				got = xts_preference[i];
		if (want == ENVOL_XTS_BACKEND_AUTO)
			snprintf(head, sizeof head, "auto: the first of");
		else
			snprintf(head, sizeof head, "%s %s (%s), falling back to the first of",
				 envol_xts_backend_to_string(want),
				 status[want] == -EOPNOTSUPP ? "is not usable here" :
							       "failed its self-test",
				 whys[want] ? whys[want] : "?");
		for (size_t i = 0; i < ARRAY_SIZE(xts_preference); i++)
			append(head, sizeof head, "%s %s", i ? "," : "",
			       envol_xts_backend_to_string(xts_preference[i]));
		append(head, sizeof head, " that passed");
	}
	if (got < 0)
		got = -EIO;
	if (!why || !why_len)
		return got;
	if (got > 0)
		snprintf(why, why_len, "sector cipher %s (%s): %s; self-tests:",
			 envol_xts_backend_to_string(got), whys[got] ? whys[got] : "?", head);
	else
		snprintf(why, why_len, "no sector cipher backend can be used (%s); self-tests:", head);
	for (size_t i = 0; i < ARRAY_SIZE(xts_preference); i++) {
		enum envol_xts_backend b = xts_preference[i];

		append(why, why_len, "%s %s %s", i ? "," : "", envol_xts_backend_to_string(b),
		       status_word(status[b]));
		if (status[b] != 0 && b != want)
			append(why, why_len, " (%s)", whys[b] ? whys[b] : "?");
	}
	return got;
}

/* Chooses among all backends (testing each once); sets xts_selected.  Under xts_lock. */
static int select_locked(enum envol_xts_backend want, char *why, size_t why_len)
{
	int status[ENVOL_XTS_BACKEND_MAX] = { 0 };
	const char *whys[ENVOL_XTS_BACKEND_MAX] = { 0 };
	int got, degraded = 0;

	for (int b = ENVOL_XTS_BACKEND_AUTO + 1; b < ENVOL_XTS_BACKEND_MAX; b++) {
		status[b] = status_locked((enum envol_xts_backend)b);
		whys[b] = xts_why[b];
		if (status[b] != 0 && status[b] != -EOPNOTSUPP)
			degraded = 1; /* a failed self-test is worth a warning */
	}
	got = sector_cipher_choose(want, status, whys, fips_mode(), why, why_len);
	if (got < 0) {
		xts_selected = ENVOL_XTS_BACKEND_AUTO;
		xts_select_r = -EIO;
		return -EIO;
	}
	xts_selected = (enum envol_xts_backend)got;
	xts_select_r = 0;
	if (want != ENVOL_XTS_BACKEND_AUTO && got != want)
		degraded = 1;
	return degraded;
}

int envol_xts_select(const char *name, char *why, size_t why_len)
{
	enum envol_xts_backend want = envol_xts_backend_from_string(name);
	int r;

	if (want < 0) {
		if (why && why_len)
			snprintf(why, why_len, "unknown sector cipher backend \"%s\"",
				 name ? name : "(null)");
		return -EINVAL;
	}
	pthread_mutex_lock(&xts_lock);
	r = select_locked(want, why, why_len);
	pthread_mutex_unlock(&xts_lock);
	if (why && why_len)
		log_debug("%s", why);
	return r;
}

enum envol_xts_backend envol_xts_selected(void)
{
	enum envol_xts_backend b;

	pthread_mutex_lock(&xts_lock);
	b = xts_selected;
	pthread_mutex_unlock(&xts_lock);
	return b;
}

/* The backend envol_xts_new() uses: the selected one, selecting auto on first use. */
static int default_backend(void)
{
	char why[512];
	int r;

	pthread_mutex_lock(&xts_lock);
	if (xts_selected == ENVOL_XTS_BACKEND_AUTO && xts_select_r == 0) {
		r = select_locked(ENVOL_XTS_BACKEND_AUTO, why, sizeof why);
		log_debug("%s", why);
	}
	r = xts_selected != ENVOL_XTS_BACKEND_AUTO ? (int)xts_selected : -EIO;
	pthread_mutex_unlock(&xts_lock);
	return r;
}

int envol_xts_new_backend(const uint8_t *key, size_t key_len, unsigned sector_size,
			  enum envol_xts_backend backend, struct envol_xts **ret)
{
	struct envol_xts *x;
	int b, r;

	if (!key || !ret || key_len != ENVOL_XTS_KEY_SIZE)
		return -EINVAL;
	if (sector_size != 512 && sector_size != 4096)
		return -EINVAL;
	if (backend < ENVOL_XTS_BACKEND_AUTO || backend >= ENVOL_XTS_BACKEND_MAX)
		return -EINVAL;
	/* IEEE 1619 key halves must differ; OpenSSL refuses equal halves for encryption. */
	if (CRYPTO_memcmp(key, key + XTS_HALF, XTS_HALF) == 0)
		return log_debug_errno(-EINVAL, "XTS key halves are equal");

	if (backend == ENVOL_XTS_BACKEND_AUTO) {
		b = default_backend();
		if (b < 0)
			return log_debug_errno(b, "no sector cipher backend passed its self-test");
	} else {
		r = envol_xts_backend_status(backend, NULL, 0);
		if (r < 0)
			return log_debug_errno(r, "sector cipher %s cannot be used",
					       envol_xts_backend_to_string(backend));
		b = backend;
	}

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->backend = (enum envol_xts_backend)b;
	x->ops = xts_backends[b];
	x->sector_size = sector_size;
	x->sector_shift = sector_size == 512 ? 9 : 12;
	r = x->ops->new_state(key, &x->state);
	if (r < 0) {
		log_debug_errno(r, "cannot key sector cipher %s: %m", x->ops->name);
		free(x);
		return r;
	}
	*ret = x;
	return 0;
}

int envol_xts_new(const uint8_t *key, size_t key_len, unsigned sector_size, struct envol_xts **ret)
{
	return envol_xts_new_backend(key, key_len, sector_size, ENVOL_XTS_BACKEND_AUTO, ret);
}

struct envol_xts *envol_xts_free(struct envol_xts *x)
{
	if (!x)
		return NULL;
	x->ops->free_state(x->state);
	free(x);
	return NULL;
}

unsigned envol_xts_sector_size(const struct envol_xts *x)
{
	return x ? x->sector_size : 0;
}

enum envol_xts_backend envol_xts_get_backend(const struct envol_xts *x)
{
	return x ? x->backend : ENVOL_XTS_BACKEND_AUTO;
}

static int xts_crypt(struct envol_xts *x, bool enc, uint64_t sector, uint8_t *buf, size_t len)
{
	uint64_t last;
	size_t n;

	if (!x || (!buf && len > 0))
		return -EINVAL;
	if (len & (x->sector_size - 1))
		return -EINVAL;
	n = len >> x->sector_shift;
	if (n == 0)
		return 0;
	/* The last sector number must not wrap around 2^64. */
	if (ADD_OVERFLOW(sector, (uint64_t)(n - 1), &last))
		return -EINVAL;
	if (x->ops->crypt(x->state, enc, sector, x->sector_shift, buf, n) < 0)
		return log_debug_errno(-EIO, "AES-256-XTS %s (%s) failed in sectors %llu-%llu",
				       enc ? "encryption" : "decryption", x->ops->name,
				       (unsigned long long)sector, (unsigned long long)last);
	return 0;
}

int envol_xts_encrypt(struct envol_xts *x, uint64_t sector, uint8_t *buf, size_t len)
{
	return xts_crypt(x, true, sector, buf, len);
}

int envol_xts_decrypt(struct envol_xts *x, uint64_t sector, uint8_t *buf, size_t len)
{
	return xts_crypt(x, false, sector, buf, len);
}
