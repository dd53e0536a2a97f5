"""Call control: registrar, trunks, security policy, the B2BUA engine and the call API."""
