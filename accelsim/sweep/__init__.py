"""Design-space sweeps: a declarative spec, its design points, executors, a resumable store, and the
Pareto front and recommendation drawn from the results."""
