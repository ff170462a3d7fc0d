/**
 * A small Prometheus registry (counters with labels, gauges read at scrape time, histograms) rendered in the text
 * exposition format 0.0.4; no client library. Not here: summaries, exemplars, the protobuf or OpenMetrics formats.
 */
package ai.fulgur.inference.server.metrics;
