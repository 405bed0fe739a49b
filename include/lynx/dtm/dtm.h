// Everything of the lynx DTM plugin and client (umbrella header).
#pragma once

#include <lynx/context.h>
#include <lynx/dtm/auth.h>
#include <lynx/dtm/barrier.h>
#include <lynx/dtm/barrier_handler.h>
#include <lynx/dtm/branch_server.h>
#include <lynx/dtm/client.h>
#include <lynx/dtm/config.h>
#include <lynx/dtm/grpc.h>
#include <lynx/dtm/grpc_branch_server.h>
#include <lynx/dtm/helper.h>
#include <lynx/dtm/json.h>
#include <lynx/dtm/metrics.h>
#include <lynx/dtm/msg.h>
#include <lynx/dtm/redis.h>
#include <lynx/dtm/saga.h>
#include <lynx/dtm/sql.h>
#include <lynx/dtm/tcc.h>
#include <lynx/dtm/trans_base.h>
#include <lynx/dtm/workflow.h>
#include <lynx/dtm/xa.h>
#include <lynx/status.h>
