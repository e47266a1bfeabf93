"""SAM and CloudFormation templates: loading YAML/JSON, intrinsics, Globals, parameter overrides,
`--env-vars`, and SAM's CORS settings, resolved into the plain specs of `gateway.types`."""
