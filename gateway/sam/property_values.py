"""Property values that SAM resources and raw CloudFormation resources write alike: true/false
flags, stage variables, rate and burst limits, quotas. Mixed into the template loader through
SamAuth and CfnApis, so each is read (and its errors worded) one way."""
from __future__ import annotations

from typing import Any, Callable, Optional

from gateway.errors import TemplateError
from gateway.sam.sam_throttles import ACCOUNT_BURST, ACCOUNT_RATE_PER_S
from gateway.sam.template_io import env_string
from gateway.types import QuotaSpec, ThrottleSpec

# API Gateway's account-level throttle: a setting that gives only one of rate and burst keeps this for the other
ACCOUNT_THROTTLE = ThrottleSpec(rate_per_s=ACCOUNT_RATE_PER_S, burst=ACCOUNT_BURST)
QUOTA_PERIODS = ("DAY", "WEEK", "MONTH")


class PropertyValues:
    """Uses the loader's err, _get, _number and _choice."""

    def _fail_for(self, lid: str) -> Callable[[str, str], TemplateError]:
        """(message, property) -> the error naming resource `lid`: what the readers that are not
        part of the loader (cors, openapi_auth, authorizer_defaults) take to report a bad value."""
        return lambda message, prop: self.err(message, resource=lid, prop=prop)

    def _flag(self, value: Any, lid: str, prop: str, default: bool) -> bool:
        """true or false, as a boolean or its text in any case (CloudFormation passes both)."""
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise self.err(f"must be true or false, not {value!r}", resource=lid, prop=prop)

    def _stage_variables(self, props: dict, prop: str, lid: str) -> Optional[dict[str, str]]:
        """A stage's variables (Variables, StageVariables), each value as text; None when unset."""
        variables = self._get(props, prop, lid)
        if variables is None:
            return None
        if not isinstance(variables, dict):
            raise self.err("must be a mapping of names to values", resource=lid, prop=prop)
        return {str(name): env_string(value) for name, value in variables.items()}

    def _throttle(self, settings: Any, rate_key: str, burst_key: str, lid: str, prop: str,
                  base: Optional[ThrottleSpec] = None) -> Optional[ThrottleSpec]:
        """A rate and burst setting (a stage's ThrottlingRateLimit / ThrottlingBurstLimit, a usage
        plan's RateLimit / BurstLimit); None when it sets neither. The one it leaves out is `base`'s
        (the setting it narrows), else the account's."""
        if settings is None:
            return None
        if not isinstance(settings, dict):
            raise self.err(f"must be a mapping with {rate_key} and {burst_key}", resource=lid, prop=prop)
        rate = self._get(settings, rate_key, lid, f"{prop}.{rate_key}")
        burst = self._get(settings, burst_key, lid, f"{prop}.{burst_key}")
        if rate is None and burst is None:
            return None
        base = base or ACCOUNT_THROTTLE
        rate = self._number(rate, lid, f"{prop}.{rate_key}", 0, float("inf"), base.rate_per_s, integer=False)
        burst = self._number(burst, lid, f"{prop}.{burst_key}", 0, float("inf"), base.burst)
        return ThrottleSpec(rate_per_s=float(rate), burst=int(burst))

    def _quota(self, raw: Any, lid: str, prop: str) -> Optional[QuotaSpec]:
        """A usage plan's Quota: {Limit, Period, Offset}; None when unset."""
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise self.err("must be a mapping with Limit and Period", resource=lid, prop=prop)
        period = self._choice(self._get(raw, "Period", lid, f"{prop}.Period"), QUOTA_PERIODS, lid, f"{prop}.Period")
        limit = self._get(raw, "Limit", lid, f"{prop}.Limit")
        for key, value in (("Limit", limit), ("Period", period)):
            if value is None:
                raise self.err(f"is required (a quota needs a Limit and a Period: {', '.join(QUOTA_PERIODS)})",
                               resource=lid, prop=f"{prop}.{key}")
        return QuotaSpec(limit=self._number(limit, lid, f"{prop}.Limit", 0, float("inf"), None), period=period,
                         offset=self._number(self._get(raw, "Offset", lid, f"{prop}.Offset"), lid, f"{prop}.Offset",
                                             0, float("inf"), 0))
