package main

import "fmt"

const gitlabToken = "glpat-9y5LlqpGEgsCAOhOh8aG"

func main() {
	sendgrid := "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"
	fmt.Println(len(gitlabToken), len(sendgrid))
}
