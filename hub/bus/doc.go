// Package bus is crvshub's durable message bus: an embedded (or external)
// NATS JetStream server reached through Watermill, the transactional-outbox
// relay that moves committed outbox messages onto it, and the router
// middleware (correlation id, timeout, retry with jitter, dead letters and
// one circuit breaker per partner) that partner handlers run behind.
//
// Streams are provisioned by the bus itself: one file-backed work-queue
// stream per topic (the topic is the stream name and its only subject, so
// it may not contain '.', '*', '>', '/', '\' or spaces), with JetStream's
// duplicate window de-duplicating on the message UUID, and one durable
// push consumer per topic (queue group "crvshub"). Handlers subscribing to
// the same topic share that consumer: each message goes to one of them.
package bus
