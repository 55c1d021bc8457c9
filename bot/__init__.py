"""copydesk: a team's X posts, held for their editors' approval in Slack, then published on time."""
