"""AWS building blocks for the `aws` target: one module per concern, each a ComponentResource that
hands out the shared endpoint types (components.endpoints) or a small typed result of its own."""
