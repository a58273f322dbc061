"""Who is online: tabs per instance, merged across instances, published as versioned diffs."""
