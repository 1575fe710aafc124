import { Duration, RemovalPolicy, Stack, StackProps, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/**
 * The example's VPC: two AZs, public subnets for the load balancer and the
 * one NAT gateway, private subnets with egress for the app instances and the
 * migrations Lambda, isolated subnets for the database. And the front door:
 * the internet-facing ALB and its HTTP listener, which outlive every
 * release. They live here, deployed before the data stack, because the
 * migrations put their maintenance page on the listener before they drain
 * the app (the app stack is deployed after the migrations).
 */
export class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;
  public readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  public readonly listener: elbv2.ApplicationListener;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.20.0.0/16'),
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'app', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
        { name: 'data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      flowLogs: {
        rejected: { trafficType: ec2.FlowLogTrafficType.REJECT },
      },
    });

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc: this.vpc,
      internetFacing: true,
      dropInvalidHeaderFields: true,
    });
    if (!Token.isUnresolved(this.region)) {
      const logs = new s3.Bucket(this, 'AccessLogs', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        lifecycleRules: [{ expiration: Duration.days(90) }],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(logs).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'This bucket receives the load balancer access logs; logging its own access would loop.',
      });
      this.loadBalancer.logAccessLogs(logs, 'alb');
    } else {
      Validations.of(this.loadBalancer.node.defaultChild!).acknowledge({
        id: 'AwsSolutions-ELB2',
        reason:
          'Environment-agnostic synth (no region): the access-log bucket policy names the regional ELB ' +
          'account, so access logs are turned on only when the stack has an env with a region.',
      });
    }
    Validations.of(this.loadBalancer.connections.securityGroups[0].node.defaultChild!).acknowledge({
      id: 'AwsSolutions-EC23',
      reason: 'The public web front end: the load balancer must accept HTTP from the internet.',
    });
    this.listener = this.loadBalancer.addListener('Http', { port: 80, open: true });
  }
}
