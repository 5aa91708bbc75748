/* envs/ internal declarations. */
#pragma once

#include "envs/envs.h"

int envs_layers(const struct spec *s, char ***ret, berth_error **err);
int envs_pull_layers(const struct spec *s, char ***ret, berth_error **err);
/* rm -rf that also enters folders left with mode 0 (overlay's work dir). */
