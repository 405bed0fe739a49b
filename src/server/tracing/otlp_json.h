// OTLP/HTTP JSON encoding of spans (opentelemetry-proto's ExportTraceServiceRequest in its JSON
// mapping: ids as hex, 64-bit times as decimal strings, enums as numbers), one resource for the
// whole batch: service.name, service.instance.id and service.version.
#pragma once

#include <string>
#include <vector>

#include "server/tracing/span.h"

namespace lynx::server {

std::string EncodeOtlpJson(const std::vector<Span>& spans, const std::string& service_name,
                           const std::string& instance, const std::string& version);

}  // namespace lynx::server
