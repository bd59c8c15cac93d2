"""The API edge: GraphQL for validated task results, SSE for plain chat."""
