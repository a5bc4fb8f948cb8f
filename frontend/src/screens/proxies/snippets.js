// Copy-ready SDK snippets per provider id.
export function sdkSnippet(provider, baseUrl) {
  const url = baseUrl || '<base_url>'
  switch (provider) {
    case 'openai':
      return `from openai import OpenAI\n\nclient = OpenAI(base_url="${url}")`
    case 'anthropic':
      return `from anthropic import Anthropic\n\nclient = Anthropic(base_url="${url}")`
    case 'azure_openai':
      return `from openai import AzureOpenAI\n\nclient = AzureOpenAI(azure_endpoint="${url}", api_version="2024-10-21")`
    case 'bedrock':
      return `import boto3\n\nclient = boto3.client("bedrock-runtime", endpoint_url="${url}")`
    case 'vertex':
      return `from google import genai\n\nclient = genai.Client(\n    vertexai=True,\n    project="my-project",\n    location="us-central1",\n    http_options={"base_url": "${url}"},\n)`
    case 'gemini':
      return `from google import genai\n\nclient = genai.Client(\n    api_key="...",\n    http_options={"base_url": "${url}"},\n)`
    default:
      return `# Point your ${provider || 'provider'} SDK at:\nBASE_URL = "${url}"`
  }
}
