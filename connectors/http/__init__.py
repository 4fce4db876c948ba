"""The one resilient HTTP layer every vendor adapter shares: upstream calls, retries, pacing, breaker, OAuth."""
