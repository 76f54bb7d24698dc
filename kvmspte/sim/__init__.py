"""The kernel simulation: generic KVM notifier layer, host mm, triggers, the shared page-table mechanism, trace, sources, releases, and the engine that runs one scenario on one model."""
