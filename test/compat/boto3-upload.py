"""boto3 as a user of the original project drives the pipeline: upload_file, then the
original project's queue message {"bucket_name", "image_key"}.

Usage: boto3-upload.py ENDPOINT BUCKET KEY FILE QUEUE_NAME
The S3 event of the upload is received and deleted first, so that the pipeline's item can
only come from the plain message. Prints one JSON line with what it did.
"""

import json
import sys
import time

import boto3

endpoint, bucket, key, path, queue_name = sys.argv[1:6]
s3 = boto3.client("s3", endpoint_url=endpoint)
sqs = boto3.client("sqs", endpoint_url=endpoint)

s3.upload_file(path, bucket, key, ExtraArgs={"ContentType": "image/jpeg"})
queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]

event_deleted = False
deadline = time.time() + 20
while not event_deleted and time.time() < deadline:
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get(
        "Messages", []
    ):
        if key in message["Body"]:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            event_deleted = True

sent = sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"bucket_name": bucket, "image_key": key}))
print(
    json.dumps(
        {
            "boto3": boto3.__version__,
            "protocol": sqs.meta.service_model.protocol,
            "eventDeleted": event_deleted,
            "messageId": sent["MessageId"],
        }
    )
)
