"""State the replicas of one fleet share on Redis (``BFF_REDIS_URL``): breakers, budgets,
per-client limits, drift windows and chat streams. Without Redis each has an
in-process twin, and the BFF runs as one replica."""
