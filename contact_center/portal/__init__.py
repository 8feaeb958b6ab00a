"""The customer self-service portal: sign-in by emailed link or texted code, own cases, new cases, surveys."""
