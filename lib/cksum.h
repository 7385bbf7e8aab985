/* cksum.h: the POSIX cksum CRC, so a cursor's check can be recomputed inside
 * a sprite with nothing but `cksum`. */
#ifndef SPRITE_CKSUM_H
#define SPRITE_CKSUM_H

#include <stddef.h>
#include <stdint.h>

/* What `printf %s DATA | cksum` prints first: the CRC of data and its length. */
uint32_t posix_cksum(const void *data, size_t len);

#endif
