/* fuzz-frame-text: one exec text message (session_info, exit, resize,
 * signal...), whole. */
#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_text ft;
	if (frame_parse_text((const char *)data, size, &ft) && ft.signal[0])
		(void)signal_from_name(ft.signal);
	return 0;
}
