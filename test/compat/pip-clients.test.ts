// The AWS CLI v1 and boto3 of a pip/pyenv python3 on PATH: SQS over the JSON protocol.
import { describeRealClients, pipToolchain } from "./real-clients.ts";

describeRealClients(pipToolchain());
