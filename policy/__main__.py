"""The policy pack: `pulumi preview --policy-pack policy` (see README, "Policy gates")."""

from pulumi_policy import EnforcementLevel, PolicyPack

from gates import POLICIES

PolicyPack(name="dify-gates", policies=POLICIES, enforcement_level=EnforcementLevel.MANDATORY)
