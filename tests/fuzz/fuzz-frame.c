/* fuzz-frame: the exec WebSocket as a sprite's side sends it, in pieces.
 * Input: a byte whose bit 0 is TTY mode, then pieces, each a byte
 * (bit 0 binary, bit 1 last, bits 2-7 length) and that many bytes. */
#include "frame.h"

#include <stdint.h>
#include <stdlib.h>

static void on_data(void *arg, int stream, const uint8_t *buf, size_t len)
{
	(void)arg;
	if (stream < -1 || stream > 255 || (len && !buf))
		abort();
}

static void on_text(void *arg, const char *msg, size_t len)
{
	(void)arg;
	struct frame_text ft;
	const char *type = msg ? frame_parse_text(msg, len, &ft) : NULL;
	if (type && ft.signal[0])
		(void)signal_from_name(ft.signal);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct frame_rx rx;
	struct frame_sink sink = { on_data, on_text, NULL };
	frame_rx_init(&rx, data[0] & 1);
	size_t i = 1;
	while (i < size) {
		uint8_t h = data[i++];
		size_t len = h >> 2;
		if (len > size - i)
			len = size - i;
		frame_rx_feed(&rx, &sink, data + i, len, h & 1, (h & 2) != 0);
		i += len;
	}
	frame_rx_free(&rx);
	return 0;
}
