import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.ts";
import { handlerPolicy, lambdaTrustPolicy } from "../../src/provision/deploy/policy.ts";
import { deploymentArns } from "../../src/provision/deploy/spec.ts";

const config = loadConfig({ AWS_ENDPOINT_URL: "", AWS_REGION: "us-west-2", NAME_PREFIX: "acme-images" });
const arns = deploymentArns(config, "123456789012");
const policy = handlerPolicy(config, arns);

/** Every (action, resource) pair the document allows. */
function grants(): string[] {
  return policy.Statement.flatMap((s) => s.Action.flatMap((a) => s.Resource.map((r) => `${a} ${r}`))).sort();
}

describe("the role policy deploy creates", () => {
  it("grants exactly the handler's actions on exactly its resources", () => {
    expect(grants()).toEqual(
      [
        "s3:GetObject arn:aws:s3:::acme-images-uploads/uploads/*",
        "s3:ListBucket arn:aws:s3:::acme-images-uploads",
        "s3:PutObject arn:aws:s3:::acme-images-thumbnails/*",
        "s3:DeleteObject arn:aws:s3:::acme-images-thumbnails/*",
        "dynamodb:GetItem arn:aws:dynamodb:us-west-2:123456789012:table/ImageMetadata",
        "dynamodb:PutItem arn:aws:dynamodb:us-west-2:123456789012:table/ImageMetadata",
        "dynamodb:UpdateItem arn:aws:dynamodb:us-west-2:123456789012:table/ImageMetadata",
        "sqs:ReceiveMessage arn:aws:sqs:us-west-2:123456789012:acme-images-upload-events",
        "sqs:DeleteMessage arn:aws:sqs:us-west-2:123456789012:acme-images-upload-events",
        "sqs:GetQueueAttributes arn:aws:sqs:us-west-2:123456789012:acme-images-upload-events",
        "logs:CreateLogStream arn:aws:logs:us-west-2:123456789012:log-group:/aws/lambda/acme-images-thumbnailer:*",
        "logs:PutLogEvents arn:aws:logs:us-west-2:123456789012:log-group:/aws/lambda/acme-images-thumbnailer:*",
      ].sort(),
    );
  });

  it("has no wildcard action, and wildcards only below one of the pipeline's own resources", () => {
    const named = [arns.uploadsBucket, arns.thumbnailsBucket, arns.table, arns.queue, arns.logGroup];
    for (const statement of policy.Statement) {
      expect(statement.Effect).toBe("Allow");
      expect(Object.keys(statement).sort()).toEqual(["Action", "Effect", "Resource", "Sid"]);
      for (const action of statement.Action) expect(action).toMatch(/^[a-z0-9]+:[A-Za-z]+$/);
      for (const resource of statement.Resource) {
        const owner = named.find(
          (arn) => resource === arn || resource.startsWith(`${arn}/`) || resource.startsWith(`${arn}:`),
        );
        expect(owner, resource).toBeDefined();
        expect(resource.indexOf("*") === -1 || resource.indexOf("*") > (owner?.length ?? 0), resource).toBe(true);
      }
    }
  });

  it("never reads the thumbnails or writes or deletes the originals", () => {
    expect(grants().filter((g) => g.includes("thumbnails") && !/^s3:(PutObject|DeleteObject) /.test(g))).toEqual([]);
    expect(grants().filter((g) => g.includes("-uploads") && /^s3:(Put|Delete)/.test(g))).toEqual([]);
  });

  it("follows the configured upload prefix, table and partition", () => {
    const china = loadConfig({
      AWS_ENDPOINT_URL: "",
      AWS_REGION: "cn-north-1",
      UPLOAD_PREFIX: "incoming/",
      TABLE_NAME: "Photos",
    });
    const doc = handlerPolicy(china, deploymentArns(china, "111122223333"));
    const resources = doc.Statement.flatMap((s) => s.Resource);
    expect(resources).toContain("arn:aws-cn:s3:::image-pipeline-uploads/incoming/*");
    expect(resources).toContain("arn:aws-cn:dynamodb:cn-north-1:111122223333:table/Photos");
  });

  it("lets only Lambda assume the role", () => {
    expect(lambdaTrustPolicy().Statement).toEqual([
      { Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" },
    ]);
  });
});
