# The guide's handler ("Practical Implementation: Building a Serverless AI Application", step 1), as
# written there. On Outcrop, boto3 reaches the local Bedrock through AWS_ENDPOINT_URL, which the local
# Lambda runtime sets; the model id is served by the local model the catalog maps it to.
import json
import boto3
from aws_lambda_powertools import Logger, Tracer

logger = Logger()
tracer = Tracer()
bedrock = boto3.client('bedrock-runtime', region_name='us-east-1')

@tracer.capture_lambda_handler
def lambda_handler(event, context):
    try:
        body = json.loads(event['body'])
        user_message = body['message']
        
        # Call Bedrock
        response = bedrock.invoke_model(
            modelId='anthropic.claude-3-sonnet-20240229-v1:0',
            contentType='application/json',
            accept='application/json',
            body=json.dumps({
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 1000,
                "messages": [{"role": "user", "content": user_message}]
            })
        )
        
        result = json.loads(response['body'].read())
        
        return {
            'statusCode': 200,
            'headers': {
                'Access-Control-Allow-Origin': '*',
                'Content-Type': 'application/json'
            },
            'body': json.dumps({
                'response': result['content'][0]['text']
            })
        }
        
    except Exception as e:
        logger.error(f"Error: {str(e)}")
        return {
            'statusCode': 500,
            'body': json.dumps({'error': 'Internal server error'})
        }
