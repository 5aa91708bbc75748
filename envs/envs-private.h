/* envs/ internal declarations. */
#pragma once

#include "envs/envs.h"

int envs_layers(const struct spec *s, char ***ret, berth_error **err);
/* Fill the NULL entries of layers (one per spec layer, bottom first) with the
 * unpacked folders of the spec's archives. */
int envs_pull_layers(const struct spec *s, char **layers, berth_error **err);
