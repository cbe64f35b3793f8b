// Debian 12's awscli 2.9 and python3-boto3 1.26: SQS over the query protocol. CI installs them.
import { debianToolchain, describeRealClients } from "./real-clients.ts";

describeRealClients(debianToolchain());
