"""The example's VPC: two AZs, public subnets for the load balancer and the
one NAT gateway, private subnets with egress for the app instances and the
migrations Lambda, isolated subnets for the database. And the front door:
the internet-facing ALB and its HTTP listener, which outlive every release.
They live here, deployed before the data stack, because the migrations put
their maintenance page on the listener before they drain the app (the app
stack is deployed after the migrations)."""
from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Token, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3
from constructs import Construct


class NetworkStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr("10.20.0.0/16"),
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
                ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            flow_logs={"rejected": ec2.FlowLogOptions(traffic_type=ec2.FlowLogTrafficType.REJECT)},
        )
        alb = elbv2.ApplicationLoadBalancer(
            self, "Alb", vpc=self.vpc, internet_facing=True, drop_invalid_header_fields=True
        )
        if not Token.is_unresolved(self.region):
            logs = s3.Bucket(
                self,
                "AccessLogs",
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
                removal_policy=RemovalPolicy.RETAIN,
            )
            Validations.of(logs).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-S1",
                    reason="This bucket receives the load balancer access logs; logging its own access would loop.",
                )
            )
            alb.log_access_logs(logs, "alb")
        else:
            Validations.of(alb.node.default_child).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-ELB2",
                    reason="Environment-agnostic synth (no region): the access-log bucket policy names the regional "
                    "ELB account, so access logs are turned on only when the stack has an env with a region.",
                )
            )
        Validations.of(alb.connections.security_groups[0].node.default_child).acknowledge(
            Acknowledgment(
                id="AwsSolutions-EC23",
                reason="The public web front end: the load balancer must accept HTTP from the internet.",
            )
        )
        self.load_balancer = alb
        self.listener = alb.add_listener("Http", port=80, open=True)
