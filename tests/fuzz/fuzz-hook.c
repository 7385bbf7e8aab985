/* fuzz-hook: one hook event line from a sprite, as hook-apply reads it,
 * mapped against tasks in each state it distinguishes. */
#include "hookmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *obj = json_loadb((const char *)data, size, 0, NULL);
	if (!obj)
		return 0;
	struct hook_event ev;
	char err[200];
	if (hook_event_parse(obj, &ev, err, sizeof err) == 0) {
		static const struct hook_task tasks[] = {
			{ "processing", "", { 0 }, 0 },
			{ "blocked", "s1", { "question", "tool", "assistant" }, 3 },
			{ "done", "other", { "tool" }, 1 },
		};
		for (size_t i = 0; i < sizeof tasks / sizeof *tasks; i++) {
			struct hook_effect eff;
			hook_map(&ev, &tasks[i], &eff);
			if (eff.nlogs < 0 || eff.nlogs > HOOK_LOG_MAX)
				abort();
			for (int j = 0; j < eff.nlogs; j++) {
				if (strlen(eff.logs[j].content) >= HOOK_TEXT_MAX)
					abort();
				/* Valid UTF-8, whatever was cut. */
				json_t *str = json_string(eff.logs[j].content);
				if (!str)
					abort();
				json_decref(str);
			}
			/* A pending question is what task reply reads: it must
			 * be JSON that jansson can write (valid UTF-8, no NULs). */
			if (eff.question) {
				char *text = json_dumps(eff.question, JSON_COMPACT);
				if (!text)
					abort();
				free(text);
			}
			hook_effect_done(&eff);
		}
	}
	json_decref(obj);
	return 0;
}
