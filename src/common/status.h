// Internal code includes the public status type through this path.
#pragma once

#include <lynx/status.h>
